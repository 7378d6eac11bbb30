//! The retention policy's defaults and floors (docs/contract.md section 3).
//!
//! Each class has a protected age: no payload younger than it is ever
//! dropped, whatever the policy's count limit says, so the floor holds for
//! both limits. A policy that asks for less is refused with an error that
//! names the member and the floor.

use cairn_schemas::{ClassPolicy, RetentionClass, RetentionPolicy};

/// Microseconds in a day.
pub const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// The policy in force until an admin sets one.
pub const DEFAULT_POLICY: RetentionPolicy = RetentionPolicy {
    security: ClassPolicy {
        cadence_secs: 86_400,
        max_age_days: 400,
        max_count: None,
    },
    activity: ClassPolicy {
        cadence_secs: 86_400,
        max_age_days: 90,
        max_count: None,
    },
    operational: ClassPolicy {
        cadence_secs: 86_400,
        max_age_days: 30,
        max_count: None,
    },
};

/// The youngest payload of `class` that may ever be dropped, in days:
/// security events are kept at least 90 days, runs and schedules 7;
/// per-request records have no floor beyond a positive maximum age.
pub fn protected_days(class: RetentionClass) -> u32 {
    match class {
        RetentionClass::Security => 90,
        RetentionClass::Activity => 7,
        RetentionClass::Operational => 0,
    }
}

/// The shortest cadence: pruning more often than once a minute buys
/// nothing and costs a snapshot each time.
pub const MIN_CADENCE_SECS: u64 = 60;
/// The longest cadence (30 days).
pub const MAX_CADENCE_SECS: u64 = 30 * 86_400;
/// The longest maximum age (100 years).
pub const MAX_AGE_DAYS: u32 = 36_500;
/// The smallest count limit: a class keeps at least this many payloads.
pub const MIN_COUNT: u64 = 100;

/// A policy member below its floor (or beyond its bound).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct RetentionPolicyError {
    /// The member, e.g. `security.max_age_days`.
    pub field: &'static str,
    /// What is wrong, naming the floor.
    pub problem: String,
}

#[derive(Clone, Copy)]
enum Member {
    Cadence,
    MaxAge,
    MaxCount,
}

fn field_name(class: RetentionClass, member: Member) -> &'static str {
    use Member::*;
    use RetentionClass::*;
    match (class, member) {
        (Security, Cadence) => "security.cadence_secs",
        (Security, MaxAge) => "security.max_age_days",
        (Security, MaxCount) => "security.max_count",
        (Activity, Cadence) => "activity.cadence_secs",
        (Activity, MaxAge) => "activity.max_age_days",
        (Activity, MaxCount) => "activity.max_count",
        (Operational, Cadence) => "operational.cadence_secs",
        (Operational, MaxAge) => "operational.max_age_days",
        (Operational, MaxCount) => "operational.max_count",
    }
}

fn check_class(class: RetentionClass, policy: &ClassPolicy) -> Result<(), RetentionPolicyError> {
    let refuse = |member: Member, problem: String| RetentionPolicyError {
        field: field_name(class, member),
        problem,
    };
    if !(MIN_CADENCE_SECS..=MAX_CADENCE_SECS).contains(&policy.cadence_secs) {
        return Err(refuse(
            Member::Cadence,
            format!("must be from {MIN_CADENCE_SECS} (the floor) to {MAX_CADENCE_SECS} seconds"),
        ));
    }
    let floor = protected_days(class).max(1);
    if policy.max_age_days < floor {
        return Err(refuse(
            Member::MaxAge,
            format!(
                "{} days is below the floor of {floor} days for {} events",
                policy.max_age_days,
                class.as_str()
            ),
        ));
    }
    if policy.max_age_days > MAX_AGE_DAYS {
        return Err(refuse(
            Member::MaxAge,
            format!("must be at most {MAX_AGE_DAYS} days"),
        ));
    }
    if let Some(count) = policy.max_count
        && count < MIN_COUNT
    {
        return Err(refuse(
            Member::MaxCount,
            format!("{count} is below the floor of {MIN_COUNT} events"),
        ));
    }
    Ok(())
}

/// Checks every class of `policy` against its floors.
pub fn check_retention_policy(policy: &RetentionPolicy) -> Result<(), RetentionPolicyError> {
    for class in RetentionClass::ALL {
        check_class(*class, policy.of(*class))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_meets_its_floors() {
        assert_eq!(check_retention_policy(&DEFAULT_POLICY), Ok(()));
    }

    #[test]
    fn a_policy_below_a_floor_names_the_member_and_the_floor() {
        let mut policy = DEFAULT_POLICY;
        policy.security.max_age_days = 89;
        let error = check_retention_policy(&policy).expect_err("below the floor");
        assert_eq!(error.field, "security.max_age_days");
        assert!(error.problem.contains("floor of 90 days"), "{error}");

        let mut policy = DEFAULT_POLICY;
        policy.activity.max_age_days = 6;
        assert_eq!(
            check_retention_policy(&policy).map_err(|e| e.field),
            Err("activity.max_age_days")
        );

        let mut policy = DEFAULT_POLICY;
        policy.operational.max_age_days = 0;
        assert!(check_retention_policy(&policy).is_err());
        policy.operational.max_age_days = 1;
        assert_eq!(check_retention_policy(&policy), Ok(()));

        let mut policy = DEFAULT_POLICY;
        policy.operational.max_count = Some(99);
        let error = check_retention_policy(&policy).expect_err("below the floor");
        assert_eq!(error.field, "operational.max_count");
        assert!(error.problem.contains("floor of 100"), "{error}");

        let mut policy = DEFAULT_POLICY;
        policy.security.cadence_secs = 59;
        assert_eq!(
            check_retention_policy(&policy).map_err(|e| e.field),
            Err("security.cadence_secs")
        );
    }
}
