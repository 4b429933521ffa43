use std::collections::BTreeSet;

use super::*;
use crate::{Regime, TokenGrant};

fn policy() -> Policy {
    Policy::default_policy().expect("default policy validates")
}

fn why(case: Option<&str>) -> Purpose {
    Purpose::parse(Regime::Led, "investigation", "RO Law 363/2018 art. 5", case).unwrap()
}

fn user(roles: &[Role]) -> Principal {
    Principal::user("u", "ro-igpf", "RO").with_roles(roles.iter().copied()).with_cases(["2026/117"])
}

/// What each role may do on the node's own data under an assigned case, in the order of
/// `Operation::ALL`: the table README's section for data-protection officers shows.
#[test]
fn role_by_operation_matrix() {
    use Operation::*;
    let expect: [(Role, &[Operation]); 7] = [
        (
            Role::Operator,
            &[
                ReadsView,
                IncidentsView,
                IncidentsManage,
                BulletinsView,
                OperationsView,
                PatrolsView,
                PatrolsReport,
                PatrolsManage,
                FootageUpload,
                FootageView,
                VideoAnalyse,
                EventsView,
                EventsConfirm,
                ImagesView,
                AlertsLive,
                AlertsList,
                AlertsAck,
                HotlistView,
                CamerasView,
                StatsView,
            ],
        ),
        (
            Role::Analyst,
            &[
                ReadsSearch,
                ReadsView,
                QueriesAsk,
                RequestsMake,
                IncidentsView,
                BulletinsView,
                BulletinsIssue,
                OperationsView,
                OperationsManage,
                FootageView,
                ClipsExport,
                EventsView,
                ImagesView,
                DetectionsSearch,
                AlertsList,
                HotlistView,
                CamerasView,
                StatsView,
            ],
        ),
        (
            Role::Investigator,
            &[
                ReadsSearch,
                ReadsView,
                QueriesAsk,
                RequestsMake,
                BulletinsView,
                BulletinsIssue,
                OperationsView,
                OperationsManage,
                FootageView,
                ClipsExport,
                ImagesView,
                DetectionsSearch,
                AlertsList,
                HotlistView,
                HotlistManage,
                CamerasView,
                StatsView,
            ],
        ),
        (
            Role::Supervisor,
            &[
                ReadsSearch,
                ReadsView,
                QueriesAsk,
                RequestsMake,
                ImagesView,
                DetectionsSearch,
                AlertsLive,
                AlertsList,
                AlertsAck,
                HotlistView,
                HotlistManage,
                CamerasView,
                StatsView,
                PartnersView,
                RequestsDecide,
                IncidentsView,
                IncidentsManage,
                BulletinsView,
                BulletinsIssue,
                OperationsView,
                OperationsManage,
                PatrolsView,
                PatrolsReport,
                PatrolsManage,
                FootageUpload,
                FootageView,
                VideoShare,
                ClipsExport,
                ClipsSend,
                ClipsUnblur,
                VideoAnalyse,
                EventsView,
                EventsConfirm,
            ],
        ),
        (Role::Dpo, &[CamerasView, StatsView, AuditView, SubjectRequest, DataErase, DataRestrict]),
        (
            Role::Administrator,
            &[CamerasView, CamerasManage, StatsView, UsersManage, TokensManage, PartnersView, PartnersManage],
        ),
        (Role::VictimIdentification, &[TriageReview, TriageReveal, TriageCategorise]),
    ];
    let p = policy();
    let node = Resource::node("ro-igpf", "RO");
    let camera = Resource::camera("cam-1", "ro-igpf", "RO");
    for (role, allowed) in expect {
        let who = user(&[role]);
        for &op in Operation::ALL {
            let resource = if op == CamerasManage { &camera } else { &node };
            let d = p.decide(&who, op, resource, Some(&why(Some("2026/117"))));
            assert_eq!(d.allowed, allowed.contains(&op), "{role} {op}: {d:?}");
        }
    }
    // No role, nothing.
    let nobody = Principal::user("n", "ro-igpf", "RO");
    for &op in Operation::ALL {
        assert!(!p.decide(&nobody, op, &node, Some(&why(None))).allowed, "{op}");
    }
}

#[test]
fn personal_data_needs_a_purpose() {
    let p = policy();
    let analyst = user(&[Role::Analyst]);
    let node = Resource::node("ro-igpf", "RO");
    let d = p.decide(&analyst, Operation::ReadsSearch, &node, None);
    assert!(!d.allowed);
    assert!(d.reason.contains("purpose"), "{}", d.reason);
    // The camera registry is not personal data.
    assert!(p.decide(&analyst, Operation::CamerasView, &node, None).allowed);
    let d = p.decide(&analyst, Operation::ReadsSearch, &node, Some(&why(None)));
    assert!(d.allowed);
    assert_eq!(d.policies, ["analyst"]);
    assert_eq!(d.purpose, Some(why(None)));
}

#[test]
fn investigators_search_only_under_their_cases() {
    let p = policy();
    let node = Resource::node("ro-igpf", "RO");
    let inv = user(&[Role::Investigator]);
    assert!(p.decide(&inv, Operation::ReadsSearch, &node, Some(&why(Some("2026/117")))).allowed);
    let other = p.decide(&inv, Operation::ReadsSearch, &node, Some(&why(Some("2026/999"))));
    assert!(!other.allowed);
    assert!(other.reason.contains("no rule"), "{}", other.reason);
    assert!(!p.decide(&inv, Operation::ReadsSearch, &node, Some(&why(None))).allowed);
    // Asking partners about a plate likewise.
    assert!(p.decide(&inv, Operation::QueriesAsk, &node, Some(&why(Some("2026/117")))).allowed);
    assert!(!p.decide(&inv, Operation::QueriesAsk, &node, Some(&why(Some("2026/999")))).allowed);
    assert!(!p.decide(&inv, Operation::QueriesAsk, &node, Some(&why(None))).allowed);
    // Opening a read an alert points to needs no case.
    assert!(p.decide(&inv, Operation::ReadsView, &node, Some(&why(None))).allowed);
    // An investigator who is also an analyst searches as an analyst.
    let both = user(&[Role::Investigator, Role::Analyst]);
    assert!(p.decide(&both, Operation::ReadsSearch, &node, Some(&why(Some("2026/999")))).allowed);
}

#[test]
fn administrators_manage_only_their_agencys_cameras() {
    let p = policy();
    let admin = user(&[Role::Administrator]);
    let ours = Resource::camera("cam-1", "ro-igpf", "RO");
    let theirs = Resource::camera("cam-9", "ua-dpsu", "UA");
    assert!(p.decide(&admin, Operation::CamerasManage, &ours, None).allowed);
    assert!(!p.decide(&admin, Operation::CamerasManage, &theirs, None).allowed);
}

#[test]
fn a_partners_officer_consults_only_under_a_case() {
    let p = policy();
    let node = Resource::node("ro-igpf", "RO");
    let liaison = Principal::user("mykola", "ua-dpsu", "UA").with_roles([Role::Analyst]);
    let d = p.decide(&liaison, Operation::ReadsSearch, &node, Some(&why(None)));
    assert!(!d.allowed);
    assert_eq!(d.policies, ["foreign-officer-case"]);
    assert!(p.decide(&liaison, Operation::ReadsSearch, &node, Some(&why(Some("JIT-2026/4")))).allowed);
    // The node's own officers search without one.
    assert!(p.decide(&user(&[Role::Analyst]), Operation::ReadsSearch, &node, Some(&why(None))).allowed);
}

#[test]
fn clearance_closes_sensitive_data_to_every_role() {
    let p = policy();
    let secret = Resource::node("ro-igpf", "RO").with_sensitivity(2);
    let sup = user(&[Role::Supervisor]);
    let d = p.decide(&sup, Operation::ReadsSearch, &secret, Some(&why(None)));
    assert!(!d.allowed);
    assert_eq!(d.policies, ["clearance"]);
    assert!(p.decide(&sup.with_clearance(2), Operation::ReadsSearch, &secret, Some(&why(None))).allowed);
}

#[test]
fn tokens_act_within_scope_agency_and_fixed_purpose() {
    let p = policy();
    let fixed = Purpose::parse(Regime::Led, "detection", "RO Law 363/2018 art. 5", None).unwrap();
    let grant = TokenGrant {
        scope: BTreeSet::from([Operation::ReadsIngest, Operation::AlertsLive]),
        purpose: Some(fixed.clone()),
    };
    let token = Principal::token("gw-1", "ro-igpf", "RO", grant).unwrap();
    let node = Resource::node("ro-igpf", "RO");
    assert!(p.decide(&token, Operation::ReadsIngest, &node, None).allowed);
    // The token's purpose is the one logged, whatever the caller declares.
    let d = p.decide(&token, Operation::AlertsLive, &node, Some(&why(Some("2026/117"))));
    assert!(d.allowed);
    assert_eq!(d.purpose, Some(fixed));
    let out = p.decide(&token, Operation::ReadsSearch, &node, None);
    assert!(!out.allowed);
    assert!(out.reason.contains("outside this token's scope"), "{}", out.reason);
    let theirs = Resource::camera("cam-9", "ua-dpsu", "UA");
    let d = p.decide(&token, Operation::ReadsIngest, &theirs, None);
    assert!(!d.allowed);
    assert_eq!(d.policies, ["token-own-agency"]);
}

#[test]
fn replaced_policies_are_validated() {
    // A node's own rule: operators may also search, but only for detection.
    let extra = format!(
        "{DEFAULT_POLICY}\n@id(\"operator-detection-search\")\npermit (principal in Limes::Role::\"operator\", \
         action == Limes::Action::\"reads.search\", resource) when {{ context has purpose && context.purpose == \"detection\" }};"
    );
    let p = Policy::from_text(&extra).unwrap();
    assert!(p.policy_ids().contains(&"operator-detection-search".to_owned()));
    let op = user(&[Role::Operator]);
    let node = Resource::node("ro-igpf", "RO");
    let detection = Purpose::parse(Regime::Led, "detection", "law 1", None).unwrap();
    assert!(p.decide(&op, Operation::ReadsSearch, &node, Some(&detection)).allowed);
    assert!(!p.decide(&op, Operation::ReadsSearch, &node, Some(&why(None))).allowed);

    // Typos fail at start, not silently at decision time.
    let typo = "permit (principal, action, resource) when { principal.agnecy == \"x\" };";
    assert!(matches!(Policy::from_text(typo), Err(PolicyError::Invalid(_))), "unknown attribute");
    let unknown = "permit (principal, action == Limes::Action::\"reads.delete\", resource);";
    assert!(matches!(Policy::from_text(unknown), Err(PolicyError::Invalid(_))), "unknown action");
    assert!(matches!(Policy::from_text("permit (principal, action, resource"), Err(PolicyError::Parse(_))));
    assert!(matches!(Policy::from_text(&"(".repeat(100_000)), Err(PolicyError::Parse(_))));
}
