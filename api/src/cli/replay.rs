//! `cairn replay`: the views of a stopped server rebuilt as of a point of
//! its log, to answer "what was the state then?", "could this user do that
//! then, and why?" and "what changed between these two points?".
//!
//! The views are folded with `Views::apply`, record by record, as the
//! server does at start and as `GET /api/v1/access/explain?at_seq=` does,
//! and questions go to the same `authorize`, so replay answers as the
//! server did at that seq. Each record is checked on the way (its hash,
//! its payload digest, its link to the one before): an answer must not
//! rest on a tampered log. Nothing is written to the data dir.

mod diff;
mod summary;

use std::io::Write;

use cairn_audit::time_format::{parse_rfc3339_micros, rfc3339_micros};
use cairn_core::log::chain::{RecordFault, check_record};
use cairn_core::log::{Head, LogReader};
use cairn_core::rules::username::normalize_username;
use cairn_projections::Views;
use cairn_projections::access::{Target, Who, authorize};
use cairn_projections::identity::UserRecord;
use cairn_schemas::{AccessAction, Record, ResourceKind};
use clap::Args;
use serde_json::json;
use uuid::Uuid;

use super::{CliError, open_reader};
use crate::config::DataDirArgs;
use crate::master_key;
use cairn_app::grants::SHAREABLE;
use cairn_app::snapshots;
use cairn_core::log::snapshots::Snapshots;

/// The arguments of `cairn replay`.
#[derive(Debug, Args)]
pub(super) struct ReplayArgs {
    #[command(flatten)]
    data: DataDirArgs,
    /// Replay the log up to and including this seq.
    #[arg(long, value_name = "N")]
    at_seq: Option<u64>,
    /// Replay the log up to the last event at or before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// May USER (a user id or username) do ACTION (read, run, edit, delete,
    /// share, reveal) to RESOURCE (TYPE:ID, e.g. flow:0190…), and why?
    #[arg(long, num_args = 3, value_names = ["USER", "RESOURCE", "ACTION"])]
    explain: Option<Vec<String>>,
    /// What changed in users, memberships, group members and grants
    /// between seq A and seq B.
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    diff: Option<Vec<u64>>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Where to stop folding.
#[derive(Clone, Copy, Debug)]
enum Point {
    Seq(u64),
    /// The last event at or before this time (micros).
    Time(i64),
}

/// "May USER do ACTION to RESOURCE?", checked for form before the log is
/// opened; the user is resolved in the replayed views.
#[derive(Clone, Debug)]
struct Question {
    user: String,
    kind: ResourceKind,
    id: Uuid,
    action: AccessAction,
}

/// What the command line asks for.
#[derive(Debug)]
enum Request {
    /// The state at a point: its summary, or the answer to a question.
    At(Point, Option<Question>),
    /// What changed from seq `.0` to seq `.1`.
    Diff(u64, u64),
}

pub(super) fn run(args: ReplayArgs) -> Result<(), CliError> {
    let request = parse_request(&args)?;
    let Some(master) = master_key::for_offline(&args.data.data_dir)? else {
        return Err(CliError::failure(format!(
            "no master key: set CAIRN_MASTER_KEY (or keep {} in the data dir)",
            master_key::key_file(&args.data.data_dir).display()
        )));
    };
    let reader = open_reader(&args.data, &master)?;
    let snapshots = Snapshots::new(&args.data.data_dir, &master, Views::SNAPSHOT_VERSION);
    let mut replay = Replay::new(&reader, snapshots)?;
    let out = match request {
        Request::At(point, question) => {
            replay.fold_to_point(point)?;
            match question {
                None => summary::render(&replay, args.json),
                Some(question) => explain(&replay, &question, args.json)?,
            }
        }
        Request::Diff(from, to) => {
            for seq in [from, to] {
                replay.check_seq("--diff", seq)?;
            }
            replay.fold_to(from)?;
            let before = diff::Snapshot::take(&replay);
            replay.fold_to(to)?;
            let after = diff::Snapshot::take(&replay);
            diff::render(&before, &after, args.json)
        }
    };
    print(&out)
}

fn parse_request(args: &ReplayArgs) -> Result<Request, CliError> {
    let given = [
        args.at_seq.is_some(),
        args.at.is_some(),
        args.diff.is_some(),
    ];
    match given.iter().filter(|given| **given).count() {
        0 => {
            return Err(CliError::usage(
                "say which point to replay: --at-seq N, --at TIME or --diff A B",
            ));
        }
        1 => {}
        _ => {
            return Err(CliError::usage(
                "give only one of --at-seq N, --at TIME and --diff A B",
            ));
        }
    }
    let question = args.explain.as_deref().map(parse_question).transpose()?;
    if let Some(seqs) = &args.diff {
        if question.is_some() {
            return Err(CliError::usage(
                "--explain answers at one point: use it with --at-seq or --at, not with --diff",
            ));
        }
        let [from, to] = seqs.as_slice() else {
            return Err(CliError::usage("--diff takes two seqs, A and B"));
        };
        if from >= to {
            return Err(CliError::usage(format!(
                "--diff {from} {to}: A must be an earlier seq than B"
            )));
        }
        return Ok(Request::Diff(*from, *to));
    }
    let point = match (args.at_seq, &args.at) {
        (Some(seq), _) => Point::Seq(seq),
        (None, Some(text)) => Point::Time(parse_rfc3339_micros(text).ok_or_else(|| {
            CliError::usage(format!(
                "--at {text:?} is not an RFC 3339 time (e.g. 2026-11-22T10:00:00Z)"
            ))
        })?),
        (None, None) => return Err(CliError::usage("--at-seq or --at is required")),
    };
    Ok(Request::At(point, question))
}

fn parse_question(words: &[String]) -> Result<Question, CliError> {
    let [user, resource, action] = words else {
        return Err(CliError::usage("--explain takes USER RESOURCE ACTION"));
    };
    let kinds = SHAREABLE
        .iter()
        .map(|kind| kind.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let (kind, id) = resource
        .split_once(':')
        .and_then(|(kind, id)| {
            let kind = ResourceKind::parse(kind).filter(|kind| SHAREABLE.contains(kind))?;
            Some((kind, Uuid::parse_str(id).ok()?))
        })
        .ok_or_else(|| {
            CliError::usage(format!(
                "RESOURCE {resource:?} is not TYPE:ID with TYPE one of {kinds} and ID a UUID"
            ))
        })?;
    let action = AccessAction::parse(action).ok_or_else(|| {
        let actions = AccessAction::ALL
            .iter()
            .map(|action| action.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        CliError::usage(format!("ACTION {action:?} is not one of {actions}"))
    })?;
    Ok(Question {
        user: user.clone(),
        kind,
        id,
        action,
    })
}

/// The views folded so far, and where the fold stands.
struct Replay<'r> {
    reader: &'r LogReader,
    /// The last stored seq when the command started.
    head: u64,
    views: Views,
    /// The last record applied (seq 0 and the genesis hash before any).
    last: Head,
    /// Its time (micros).
    last_at: i64,
    /// The snapshots a fold may start from.
    snapshots: Snapshots,
}

impl<'r> Replay<'r> {
    fn new(reader: &'r LogReader, snapshots: Snapshots) -> Result<Replay<'r>, CliError> {
        let head = reader.stored_head().map_err(CliError::failed)?.seq;
        Ok(Replay {
            reader,
            head,
            views: Views::new(),
            last: Head::EMPTY,
            last_at: 0,
            snapshots,
        })
    }

    /// The seq folded to.
    fn seq(&self) -> u64 {
        self.last.seq
    }

    /// `seq` names a record of the log, or the caller hears why not.
    fn check_seq(&self, flag: &str, seq: u64) -> Result<(), CliError> {
        if seq == 0 {
            return Err(CliError::usage(format!("{flag} 0: seqs start at 1")));
        }
        if seq > self.head {
            return Err(CliError::usage(format!(
                "{flag} {seq} is beyond the head of the log (seq {})",
                self.head
            )));
        }
        Ok(())
    }

    fn fold_to_point(&mut self, point: Point) -> Result<(), CliError> {
        match point {
            Point::Seq(seq) => {
                self.check_seq("--at-seq", seq)?;
                self.fold_to(seq)
            }
            Point::Time(until) => self.fold_until(until),
        }
    }

    /// Folds the records after the current point up to `seq`.
    fn fold_to(&mut self, seq: u64) -> Result<(), CliError> {
        self.start_from_snapshot(|record| record.header.seq <= seq);
        for record in self.reader.records(self.seq() + 1, seq) {
            let record = record.map_err(CliError::failed)?;
            self.apply(&record)?;
        }
        if self.seq() != seq {
            return Err(CliError::integrity(format!(
                "integrity violation: the log stops at seq {} before seq {seq} (run cairn audit verify)",
                self.seq()
            )));
        }
        Ok(())
    }

    /// Folds every record whose time is at or before `until`. Times never
    /// go backwards in the log, so the first later one ends the fold.
    fn fold_until(&mut self, until: i64) -> Result<(), CliError> {
        self.start_from_snapshot(|record| record.header.at <= until);
        for record in self.reader.records(self.seq() + 1, self.head) {
            let record = record.map_err(CliError::failed)?;
            if record.header.at > until {
                if self.seq() == 0 {
                    return Err(CliError::usage(format!(
                        "--at {} is before the first event of the log (seq 1 at {})",
                        rfc3339_micros(until),
                        rfc3339_micros(record.header.at)
                    )));
                }
                return Ok(());
            }
            self.apply(&record)?;
        }
        if self.seq() == 0 {
            return Err(CliError::usage("--at: the log has no events"));
        }
        Ok(())
    }

    /// Before the first record is folded: starts from the newest snapshot
    /// whose record `fits` instead (retention may have pruned the payloads
    /// before it). The snapshot's own record is checked against the log.
    fn start_from_snapshot(&mut self, fits: impl Fn(&Record) -> bool) {
        if self.seq() != 0 {
            return;
        }
        if let Some((views, record)) = snapshots::latest_usable(self.reader, &self.snapshots, fits)
        {
            self.views = views;
            self.last = Head {
                seq: record.header.seq,
                hash: record.hash,
            };
            self.last_at = record.header.at;
        }
    }

    /// Checks one record against its predecessor and applies it.
    fn apply(&mut self, record: &Record) -> Result<(), CliError> {
        let seq = record.header.seq;
        let fault = match check_record(record) {
            Ok(()) => None,
            // A payload removed by retention leaves its header in the
            // chain, but the views cannot be folded through it.
            Err(RecordFault::PayloadMissing) => {
                return Err(CliError::usage(format!(
                    "the state at that point can no longer be rebuilt: retention pruned the payload of record {seq} and no snapshot after it comes before the point asked for; ask for a later point"
                )));
            }
            Err(fault) => Some(fault.to_string()),
        };
        let fault = fault.or_else(|| {
            (seq != self.seq() + 1 || record.header.prev_hash != self.last.hash)
                .then(|| "it does not link to the record before it".to_string())
        });
        if let Some(fault) = fault {
            return Err(CliError::integrity(format!(
                "integrity violation at seq {seq}: {fault} (run cairn audit verify)"
            )));
        }
        self.views
            .apply(record, self.reader)
            .map_err(CliError::failed)?;
        self.last = Head {
            seq,
            hash: record.hash,
        };
        self.last_at = record.header.at;
        Ok(())
    }
}

/// The user `text` names as of the replayed point: an id, or a username
/// (normalized as at login). A text that is both one user's id and
/// another's name is refused rather than guessed.
fn resolve_user<'v>(views: &'v Views, text: &str, seq: u64) -> Result<&'v UserRecord, CliError> {
    let by_id = Uuid::parse_str(text)
        .ok()
        .and_then(|id| views.users.get(&id));
    let by_name = normalize_username(text)
        .ok()
        .and_then(|name| views.users.by_name(name.as_str()))
        .or_else(|| views.users.by_name(text));
    match (by_id, by_name) {
        (Some(user), Some(named)) if user.id != named.id => Err(CliError::usage(format!(
            "USER {text:?} is ambiguous as of seq {seq}: it is the id of one user and the name of \
             another ({}); give the id of the one you mean",
            named.id
        ))),
        (Some(user), _) | (None, Some(user)) => Ok(user),
        (None, None) => Err(CliError::usage(format!(
            "USER {text:?}: no such user (by id or username) as of seq {seq}"
        ))),
    }
}

/// Answers the question as `GET /api/v1/access/explain` answers a
/// superuser: in the org of the resource, with the same sentence.
fn explain(replay: &Replay<'_>, question: &Question, json: bool) -> Result<String, CliError> {
    let views = &replay.views;
    let user = resolve_user(views, &question.user, replay.seq())?;
    // A resource unknown at this point is not visible whatever the org:
    // the user's first org stands in for the one they would act in.
    let org_id = views
        .catalog
        .get(&question.id)
        .map(|entry| entry.org_id)
        .or_else(|| {
            views
                .orgs
                .memberships_of(&user.id)
                .next()
                .map(|(org, _)| *org)
        })
        .unwrap_or_default();
    let target = Target {
        kind: question.kind,
        id: question.id,
    };
    let who = Who {
        user_id: user.id,
        org_id,
    };
    let decision = authorize(views, who, question.action, target);
    let reason = decision.explain(views, question.action, question.kind);
    if json {
        return Ok(json!({
            "at_seq": replay.seq(),
            "allowed": decision.allowed,
            "reason": reason,
        })
        .to_string());
    }
    let resource = match views.catalog.get_kind(question.kind, &question.id) {
        Some(entry) => format!("{} {:?} ({})", question.kind, entry.name, entry.id),
        None => format!("{} {}", question.kind, question.id),
    };
    Ok(format!(
        "as of seq {} ({}): may user {} {} {resource}?\n{}\n{reason}",
        replay.seq(),
        rfc3339_micros(replay.last_at),
        label(&user.username, user.id),
        question.action,
        if decision.allowed {
            "allowed"
        } else {
            "denied"
        },
    ))
}

/// `"bob" (0190…)`, or the bare id when the name is unknown or erased.
fn label(name: &str, id: Uuid) -> String {
    if name.is_empty() {
        id.to_string()
    } else {
        format!("{name:?} ({id})")
    }
}

/// Writes the answer; a closed pipe (`cairn replay … | head`) is the
/// reader's choice, not a failure.
fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::failure_because("writing to stdout", error))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(String::from).collect()
    }

    #[test]
    fn a_question_names_a_shareable_resource_and_an_access_action() {
        let id = "0190a000-0000-7000-8000-000000000001";
        let question = parse_question(&words(&format!("bob flow:{id} run"))).expect("parses");
        assert_eq!(question.kind, ResourceKind::Flow);
        assert_eq!(question.id.to_string(), id);
        assert_eq!(question.action, AccessAction::Run);
        for bad in [
            format!("bob {id} run"),
            format!("bob user:{id} run"),
            "bob flow:0190 run".to_string(),
            format!("bob flow:{id} fly"),
        ] {
            let error = parse_question(&words(&bad)).expect_err("refused");
            assert_eq!(error.code, 2, "{bad}: {}", error.message);
        }
    }
}
