//! What each org role allows, whatever the access to the resource
//! (the role table of docs/contract.md section 4). A request needs both: a role that
//! allows the kind of action, and access to the resource.

use cairn_schemas::{AccessAction, OrgRole, ResourceKind};

use AccessAction::{Delete, Edit, Read, Reveal, Run, Share};
use ResourceKind::{Connection, Flow, Namespace, Schedule, Secret};

const ALL: &[AccessAction] = &[Read, Run, Edit, Delete, Share, Reveal];
const READ: &[AccessAction] = &[Read];
const READ_RUN: &[AccessAction] = &[Read, Run];
const NONE: &[AccessAction] = &[];

/// The actions `role` allows on resources of `kind`. `admin` allows
/// everything in its org (except revealing another's secret, which no role
/// allows: see `authorize`).
pub fn role_actions(role: OrgRole, kind: ResourceKind) -> &'static [AccessAction] {
    match (role, kind) {
        (OrgRole::Admin, _) => ALL,
        // Create namespaces, flows, secrets, connections, schedules; edit
        // and share what they own or manage; run what they can use.
        (
            OrgRole::FlowEditor,
            Namespace | Flow | Secret | Connection | Schedule | ResourceKind::Run,
        ) => ALL,
        // Read and run what they can use; schedule flows they can use;
        // own secrets.
        (OrgRole::FlowExecutor, Namespace | Flow | Connection) => READ_RUN,
        (OrgRole::FlowExecutor, Schedule | Secret) => ALL,
        (OrgRole::FlowExecutor, ResourceKind::Run) => READ,
        // Connections and secrets.
        (OrgRole::IntegrationManager, Secret | Connection) => ALL,
        // Runs and activity of what they can use.
        (OrgRole::AnalyticsViewer, Namespace | Flow | ResourceKind::Run) => READ,
        (
            OrgRole::Viewer,
            Namespace | Flow | Secret | Connection | Schedule | ResourceKind::Run,
        ) => READ,
        // audit_viewer reads the audit log only; none logs in only.
        _ => NONE,
    }
}

/// Whether `role` allows `action` on resources of `kind`.
pub fn role_allows(role: OrgRole, kind: ResourceKind, action: AccessAction) -> bool {
    role_actions(role, kind).contains(&action)
}

/// Whether `role` may create resources of `kind`.
pub fn role_may_create(role: OrgRole, kind: ResourceKind) -> bool {
    match role {
        OrgRole::Admin => true,
        OrgRole::FlowEditor => matches!(kind, Namespace | Flow | Secret | Connection | Schedule),
        OrgRole::FlowExecutor => matches!(kind, Schedule | Secret),
        OrgRole::IntegrationManager => matches!(kind, Secret | Connection),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_table() {
        assert!(role_allows(OrgRole::Admin, Flow, Delete));
        assert!(role_allows(OrgRole::FlowEditor, Flow, Share));
        assert!(role_allows(OrgRole::FlowExecutor, Flow, Run));
        assert!(!role_allows(OrgRole::FlowExecutor, Flow, Edit));
        assert!(!role_allows(OrgRole::IntegrationManager, Flow, Read));
        assert!(role_allows(OrgRole::IntegrationManager, Connection, Edit));
        assert!(!role_allows(OrgRole::AuditViewer, Namespace, Read));
        assert!(role_allows(OrgRole::Viewer, Flow, Read));
        assert!(!role_allows(OrgRole::Viewer, Flow, Run));
        for kind in ResourceKind::ALL {
            assert!(role_actions(OrgRole::None, *kind).is_empty());
        }
        assert!(role_may_create(OrgRole::FlowEditor, Namespace));
        assert!(!role_may_create(OrgRole::Viewer, Flow));
    }
}
