//! Classification: the OCSF class and activity of each Cairn action
//! (`schemas/ocsf-mapping.md`), with the ids and captions that go with them.

use cairn_schemas::Action;
use serde_json::Value;

/// The OCSF classes Cairn's actions map to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Class {
    /// 0: only for an action this version of Cairn does not know.
    BaseEvent,
    /// 3001.
    AccountChange,
    /// 3002.
    Authentication,
    /// 3004.
    EntityManagement,
    /// 3005.
    UserAccessManagement,
    /// 3006.
    GroupManagement,
    /// 6003.
    ApiActivity,
    /// 6004.
    WebResourceAccessActivity,
    /// 1006.
    ScheduledJobActivity,
    /// 1008.
    EventLogActivity,
    /// 6002.
    ApplicationLifecycle,
    /// 4002.
    HttpActivity,
}

impl Class {
    /// `class_uid` and `class_name`.
    pub(super) fn id_and_name(self) -> (u32, &'static str) {
        match self {
            Class::BaseEvent => (0, "Base Event"),
            Class::AccountChange => (3001, "Account Change"),
            Class::Authentication => (3002, "Authentication"),
            Class::EntityManagement => (3004, "Entity Management"),
            Class::UserAccessManagement => (3005, "User Access Management"),
            Class::GroupManagement => (3006, "Group Management"),
            Class::ApiActivity => (6003, "API Activity"),
            Class::WebResourceAccessActivity => (6004, "Web Resource Access Activity"),
            Class::ScheduledJobActivity => (1006, "Scheduled Job Activity"),
            Class::EventLogActivity => (1008, "Event Log Activity"),
            Class::ApplicationLifecycle => (6002, "Application Lifecycle"),
            Class::HttpActivity => (4002, "HTTP Activity"),
        }
    }

    /// `category_uid` and `category_name`.
    pub(super) fn category(self) -> (u32, &'static str) {
        match self {
            Class::BaseEvent => (0, "Uncategorized"),
            Class::ScheduledJobActivity | Class::EventLogActivity => (1, "System Activity"),
            Class::AccountChange
            | Class::Authentication
            | Class::EntityManagement
            | Class::UserAccessManagement
            | Class::GroupManagement => (3, "Identity & Access Management"),
            Class::HttpActivity => (4, "Network Activity"),
            Class::ApiActivity | Class::WebResourceAccessActivity | Class::ApplicationLifecycle => {
                (6, "Application Activity")
            }
        }
    }

    /// Whether `actor` belongs to the class only through the `host`
    /// profile (which then must be declared in `metadata.profiles`).
    pub(super) fn actor_needs_host_profile(self) -> bool {
        matches!(
            self,
            Class::BaseEvent
                | Class::WebResourceAccessActivity
                | Class::ApplicationLifecycle
                | Class::HttpActivity
        )
    }

    /// Whether the class has `src_endpoint`.
    pub(super) fn has_src_endpoint(self) -> bool {
        !matches!(
            self,
            Class::BaseEvent | Class::ScheduledJobActivity | Class::ApplicationLifecycle
        )
    }

    /// Whether the class has `http_request`.
    pub(super) fn has_http_request(self) -> bool {
        !matches!(
            self,
            Class::BaseEvent
                | Class::ScheduledJobActivity
                | Class::EventLogActivity
                | Class::ApplicationLifecycle
        )
    }
}

/// An activity of a class: its id, the `activity_name` Cairn writes (the
/// caption OCSF gives the id, except for Other (99), where OCSF wants the
/// source's own word), and the `type_name` (the class name and the id's
/// caption). All static, so that rendering formats nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Activity {
    pub(super) id: u32,
    pub(super) name: &'static str,
    pub(super) type_name: &'static str,
}

/// `activity!("Class Name", id, "Caption")`, or `activity!("Class Name",
/// other "word")` for Other (99).
macro_rules! activity {
    ($class:literal, other $name:literal) => {
        Activity {
            id: 99,
            name: $name,
            type_name: concat!($class, ": Other"),
        }
    };
    ($class:literal, $id:literal, $caption:literal) => {
        Activity {
            id: $id,
            name: $caption,
            type_name: concat!($class, ": ", $caption),
        }
    };
}

/// The class and activity of an action (`schemas/ocsf-mapping.md`).
/// Grants depend on the grantee's kind, HTTP requests on the method; an
/// action Cairn does not know is a Base Event, Other.
pub(super) fn classify(action: Option<Action>, details: &Value) -> (Class, Activity) {
    use Action::*;
    use Class::*;
    let Some(action) = action else {
        return (BaseEvent, activity!("Base Event", other "Other"));
    };
    match action {
        UserCreated => (AccountChange, activity!("Account Change", 1, "Create")),
        UserActivated => (AccountChange, activity!("Account Change", 2, "Enable")),
        UserDeactivated => (AccountChange, activity!("Account Change", 5, "Disable")),
        UserDeleted => (AccountChange, activity!("Account Change", 6, "Delete")),
        UserErased => (AccountChange, activity!("Account Change", other "Erase")),
        UserPasswordChanged => (
            AccountChange,
            activity!("Account Change", 3, "Password Change"),
        ),
        UserRoleChanged | GroupMemberRoleChanged | SystemBootstrapAdmin => (
            UserAccessManagement,
            activity!("User Access Management", 1, "Assign Privileges"),
        ),
        AuthLoginSucceeded | AuthLoginFailed => {
            (Authentication, activity!("Authentication", 1, "Logon"))
        }
        AuthLogout | SessionRevoked => (Authentication, activity!("Authentication", 2, "Logoff")),
        ApiKeyCreated | OrgCreated | NamespaceCreated | FlowCreated => (
            EntityManagement,
            activity!("Entity Management", 1, "Create"),
        ),
        FlowUpdated | ConfigChanged => (
            EntityManagement,
            activity!("Entity Management", 3, "Update"),
        ),
        NamespaceUpdated => (EntityManagement, activity!("Entity Management", 5, "Move")),
        ApiKeyRevoked | NamespaceDeleted | FlowDeleted => (
            EntityManagement,
            activity!("Entity Management", 4, "Delete"),
        ),
        OrgMemberAdded | GroupMemberAdded => (
            GroupManagement,
            activity!("Group Management", 3, "Add User"),
        ),
        OrgMemberRemoved | GroupMemberRemoved => (
            GroupManagement,
            activity!("Group Management", 4, "Remove User"),
        ),
        GroupCreated => (GroupManagement, activity!("Group Management", 6, "Create")),
        GroupDeleted => (GroupManagement, activity!("Group Management", 5, "Delete")),
        GrantCreated | GrantRevoked => classify_grant(action == GrantCreated, details),
        SecretCreated | ConnectionCreated => (ApiActivity, activity!("API Activity", 1, "Create")),
        SecretRevealed | SecretResolved | AuditQueried => {
            (ApiActivity, activity!("API Activity", 2, "Read"))
        }
        SecretRotated | ConnectionUpdated => (ApiActivity, activity!("API Activity", 3, "Update")),
        SecretDeleted | ConnectionDeleted => (ApiActivity, activity!("API Activity", 4, "Delete")),
        RunRequested | ScheduleCreated => (
            ScheduledJobActivity,
            activity!("Scheduled Job Activity", 1, "Create"),
        ),
        ScheduleDeleted => (
            ScheduledJobActivity,
            activity!("Scheduled Job Activity", 3, "Delete"),
        ),
        SchedulePinned | RunDefinitionPinned => (
            ScheduledJobActivity,
            activity!("Scheduled Job Activity", 2, "Update"),
        ),
        ScheduleResumed => (
            ScheduledJobActivity,
            activity!("Scheduled Job Activity", 4, "Enable"),
        ),
        ScheduleSuspended => (
            ScheduledJobActivity,
            activity!("Scheduled Job Activity", 5, "Disable"),
        ),
        RunStarted | ScheduleFired => (
            ScheduledJobActivity,
            activity!("Scheduled Job Activity", 6, "Start"),
        ),
        RunStepFinished => (
            ScheduledJobActivity,
            activity!("Scheduled Job Activity", other "Step Finished"),
        ),
        RunFinished => (
            ScheduledJobActivity,
            activity!("Scheduled Job Activity", other "Finish"),
        ),
        AuthzDenied => (
            WebResourceAccessActivity,
            activity!("Web Resource Access Activity", 2, "Access Deny"),
        ),
        HttpRequest => (HttpActivity, http_method_activity(details)),
        // A summary of many refused requests, of no one method.
        HttpThrottled => (HttpActivity, activity!("HTTP Activity", other "Throttle")),
        AuditExported => (
            EventLogActivity,
            activity!("Event Log Activity", 3, "Export"),
        ),
        RetentionPruned => (
            EventLogActivity,
            activity!("Event Log Activity", 1, "Clear"),
        ),
        CheckpointSigned => (
            EventLogActivity,
            activity!("Event Log Activity", other "Checkpoint"),
        ),
        SystemStarted => (
            ApplicationLifecycle,
            activity!("Application Lifecycle", 3, "Start"),
        ),
    }
}

/// Grants to a user are User Access Management, grants to a group Group
/// Management (assign 1, revoke 2). When the line does not name the
/// grantee's kind (a revocation's payload holds only the grant id, and a
/// pruned grant holds nothing), the grant itself is the entity of an
/// Entity Management create or delete.
fn classify_grant(created: bool, details: &Value) -> (Class, Activity) {
    let grantee = details.get("grantee_type").and_then(Value::as_str);
    match (grantee, created) {
        (Some("user"), true) => (
            Class::UserAccessManagement,
            activity!("User Access Management", 1, "Assign Privileges"),
        ),
        (Some("user"), false) => (
            Class::UserAccessManagement,
            activity!("User Access Management", 2, "Revoke Privileges"),
        ),
        (Some("group"), true) => (
            Class::GroupManagement,
            activity!("Group Management", 1, "Assign Privileges"),
        ),
        (Some("group"), false) => (
            Class::GroupManagement,
            activity!("Group Management", 2, "Revoke Privileges"),
        ),
        (_, true) => (
            Class::EntityManagement,
            activity!("Entity Management", 1, "Create"),
        ),
        (_, false) => (
            Class::EntityManagement,
            activity!("Entity Management", 4, "Delete"),
        ),
    }
}

/// HTTP Activity's activity is the request method; Unknown once the
/// details are pruned.
fn http_method_activity(details: &Value) -> Activity {
    let Some(method) = details.get("method").and_then(Value::as_str) else {
        return activity!("HTTP Activity", 0, "Unknown");
    };
    match http_method(method) {
        Some("CONNECT") => activity!("HTTP Activity", 1, "Connect"),
        Some("DELETE") => activity!("HTTP Activity", 2, "Delete"),
        Some("GET") => activity!("HTTP Activity", 3, "Get"),
        Some("HEAD") => activity!("HTTP Activity", 4, "Head"),
        Some("OPTIONS") => activity!("HTTP Activity", 5, "Options"),
        Some("POST") => activity!("HTTP Activity", 6, "Post"),
        Some("PUT") => activity!("HTTP Activity", 7, "Put"),
        Some("TRACE") => activity!("HTTP Activity", 8, "Trace"),
        Some("PATCH") => activity!("HTTP Activity", 9, "Patch"),
        _ => activity!("HTTP Activity", other "Other"),
    }
}

/// The method as one of `http_request.http_method`'s enumerated values,
/// or `None` for any other method (it then stays in `unmapped.details`).
pub(super) fn http_method(method: &str) -> Option<&'static str> {
    const METHODS: [&str; 9] = [
        "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "TRACE", "PATCH",
    ];
    METHODS
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(method))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_action_has_a_class_and_consistent_names() {
        let details = [
            Value::Null,
            json!({"grantee_type": "user"}),
            json!({"grantee_type": "group"}),
            json!({"method": "get"}),
            json!({"method": "PROPFIND"}),
        ];
        for action in Action::ALL {
            for details in &details {
                let (class, activity) = classify(Some(*action), details);
                assert_ne!(class, Class::BaseEvent, "{action}");
                let (_, class_name) = class.id_and_name();
                let caption = if activity.id == 99 {
                    "Other"
                } else {
                    activity.name
                };
                assert_eq!(
                    activity.type_name,
                    format!("{class_name}: {caption}"),
                    "{action}"
                );
            }
        }
    }
}
