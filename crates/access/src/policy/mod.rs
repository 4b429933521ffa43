//! The node's access rules, in Cedar.
//!
//! Roles are Cedar groups (`principal in Limes::Role::"analyst"`), operations are Cedar
//! actions with the ids of [`Operation`], and what the rules look at is attributes:
//! the principal's agency, assigned cases and clearance, the resource's agency and
//! sensitivity, the declared purpose and case. A node may replace [`DEFAULT_POLICY`] with
//! its own text; it is validated against [`SCHEMA`] first, so a rule that names an
//! attribute or action that does not exist stops the node instead of silently never
//! matching.
//!
//! Two rules are not policy but law, and are checked before Cedar is asked: an operation
//! on personal data needs a declared purpose and legal basis ([`Operation::needs_purpose`]),
//! and a token acts only within its scope.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet, Request,
    RestrictedExpression, Schema, ValidationMode, Validator,
};

use crate::{Operation, Principal, PrincipalKind, Purpose, Role};

/// The entity and context types every policy is written against. The action list is
/// generated from [`Operation::ALL`].
pub const SCHEMA: &str = r#"
namespace Limes {
  entity Role;
  // A person: a local account or one signed in through OpenID Connect.
  entity User in [Role] = {
    agency: String,
    country: String,
    clearance: Long,
    cases: Set<String>,
  };
  // An integration's API token.
  entity Token = {
    agency: String,
    country: String,
    clearance: Long,
    scope: Set<String>,
  };
  // The node's data as a whole (reads, alerts, the hotlist, the audit log).
  entity Node = {
    agency: String,
    country: String,
    sensitivity: Long,
  };
  // One camera, for acts on that camera or its reads.
  entity Camera = {
    agency: String,
    country: String,
    sensitivity: Long,
  };
  type Why = {
    operation: String,
    purpose?: String,
    legal_basis?: String,
    case_ref?: String,
  };
"#;

/// The rules a node starts with. See `README.md`, "For data-protection officers", for the
/// table of roles and operations they give.
pub const DEFAULT_POLICY: &str = include_str!("../default.cedar");

/// Why a policy cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy text is not Cedar.
    #[error("policy does not parse: {0}")]
    Parse(String),
    /// The policy names something the schema does not have, or compares values of the wrong
    /// type.
    #[error("policy does not validate against the limes schema: {0}")]
    Invalid(String),
    /// The built-in schema does not parse (a bug in limes).
    #[error("schema: {0}")]
    Schema(String),
}

/// What a decision is about: the node's data as a whole, or one camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    kind: ResourceKind,
    pub id: String,
    pub agency: String,
    pub country: String,
    /// Compared with the principal's clearance; 0 for ordinary data.
    pub sensitivity: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResourceKind {
    Node,
    Camera,
}

impl Resource {
    /// The node's own data, held for `agency`.
    pub fn node(agency: impl Into<String>, country: impl Into<String>) -> Self {
        Self {
            kind: ResourceKind::Node,
            id: "local".into(),
            agency: agency.into(),
            country: country.into(),
            sensitivity: 0,
        }
    }

    /// A camera and what it produces.
    pub fn camera(id: impl Into<String>, agency: impl Into<String>, country: impl Into<String>) -> Self {
        Self {
            kind: ResourceKind::Camera,
            id: id.into(),
            agency: agency.into(),
            country: country.into(),
            sensitivity: 0,
        }
    }

    pub fn with_sensitivity(mut self, sensitivity: i64) -> Self {
        self.sensitivity = sensitivity;
        self
    }
}

/// The answer to "may this principal do this?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Why, in words an API client and an auditor can read.
    pub reason: String,
    /// The ids of the policies that decided (the permits that allowed, or the forbids that
    /// refused).
    pub policies: Vec<String>,
    /// The purpose the act is logged under: the declared one, or a token's fixed one.
    pub purpose: Option<Purpose>,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.allowed
    }

    fn deny(reason: impl Into<String>, purpose: Option<Purpose>) -> Self {
        Self { allowed: false, reason: reason.into(), policies: Vec::new(), purpose }
    }
}

/// A validated policy set with its schema.
#[derive(Debug, Clone)]
pub struct Policy {
    policies: PolicySet,
    schema: Schema,
    authorizer: std::sync::Arc<Authorizer>,
}

fn type_name(name: &str) -> EntityTypeName {
    // The names are constants of this module; a failure is a bug caught by every test.
    EntityTypeName::from_str(name).expect("valid entity type name")
}

fn uid(kind: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name(kind), EntityId::new(id))
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> RestrictedExpression {
    RestrictedExpression::new_set(items.into_iter().map(string))
}

/// The schema text with one action per operation.
fn schema_text() -> String {
    let mut text = SCHEMA.to_owned();
    for op in Operation::ALL {
        text.push_str(&format!(
            "  action \"{}\" appliesTo {{ principal: [User, Token], resource: [Node, Camera], context: Why }};\n",
            op.id()
        ));
    }
    text.push_str("}\n");
    text
}

impl Policy {
    /// The built-in rules.
    pub fn default_policy() -> Result<Self, PolicyError> {
        Self::from_text(DEFAULT_POLICY)
    }

    /// Parses and validates `text` (strict mode) against the schema.
    pub fn from_text(text: &str) -> Result<Self, PolicyError> {
        let (schema, _warnings) =
            Schema::from_cedarschema_str(&schema_text()).map_err(|e| PolicyError::Schema(format!("{e:?}")))?;
        let policies = PolicySet::from_str(text).map_err(|e| PolicyError::Parse(render(&e)))?;
        let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !result.validation_passed() {
            let errors: Vec<String> = result.validation_errors().map(|e| render(e)).collect();
            return Err(PolicyError::Invalid(errors.join("; ")));
        }
        Ok(Self { policies, schema, authorizer: std::sync::Arc::new(Authorizer::new()) })
    }

    /// The ids (`@id("…")` annotations) of the policies, in order.
    pub fn policy_ids(&self) -> Vec<String> {
        self.policies.policies().map(|p| p.annotation("id").unwrap_or(p.id().as_ref()).to_owned()).collect()
    }

    /// Decides whether `principal` may perform `op` on `resource`, for the `declared`
    /// purpose. A token's own purpose replaces any declared one.
    pub fn decide(
        &self,
        principal: &Principal,
        op: Operation,
        resource: &Resource,
        declared: Option<&Purpose>,
    ) -> Decision {
        let purpose = match &principal.kind {
            PrincipalKind::Token(grant) => grant.purpose.clone(),
            PrincipalKind::User => declared.cloned(),
        };
        if let PrincipalKind::Token(grant) = &principal.kind
            && !grant.scope.contains(&op)
        {
            return Decision::deny(format!("{op} is outside this token's scope"), purpose);
        }
        if op.needs_purpose() && purpose.is_none() {
            return Decision::deny(
                format!(
                    "{op} touches personal data: declare a purpose and a legal basis (Limes-Purpose, Limes-Legal-Basis)"
                ),
                None,
            );
        }
        match self.ask(principal, op, resource, purpose.as_ref()) {
            Ok((true, policies)) => Decision { allowed: true, reason: "allowed".into(), policies, purpose },
            Ok((false, policies)) if policies.is_empty() => {
                let roles = principal.role_text();
                Decision::deny(format!("no rule lets {roles} perform {op} here"), purpose)
            }
            Ok((false, policies)) => {
                let reason = format!("refused by {}", policies.join(", "));
                Decision { allowed: false, reason, policies, purpose }
            }
            Err(e) => Decision::deny(format!("the policy could not decide: {e}"), purpose),
        }
    }

    fn ask(
        &self,
        principal: &Principal,
        op: Operation,
        resource: &Resource,
        purpose: Option<&Purpose>,
    ) -> Result<(bool, Vec<String>), String> {
        let (who, entity) = principal_entity(principal)?;
        let (what, target) = resource_entity(resource)?;
        let mut entities = vec![entity, target];
        entities.extend(Role::ALL.iter().map(|r| Entity::new_no_attrs(uid("Limes::Role", r.as_str()), HashSet::new())));
        let entities = Entities::from_entities(entities, Some(&self.schema)).map_err(|e| render(&e))?;
        let mut context = vec![("operation".to_owned(), string(op.id()))];
        if let Some(p) = purpose {
            context.push(("purpose".into(), string(&p.purpose)));
            context.push(("legal_basis".into(), string(&p.legal_basis)));
            if let Some(c) = &p.case_ref {
                context.push(("case_ref".into(), string(c)));
            }
        }
        let context = Context::from_pairs(context).map_err(|e| render(&e))?;
        let action = uid("Limes::Action", op.id());
        let request = Request::new(who, action, what, context, Some(&self.schema)).map_err(|e| render(&e))?;
        let response = self.authorizer.is_authorized(&request, &self.policies, &entities);
        if let Some(e) = response.diagnostics().errors().next() {
            return Err(render(e));
        }
        let ids = response
            .diagnostics()
            .reason()
            .map(|id| self.policies.policy(id).and_then(|p| p.annotation("id")).unwrap_or(id.as_ref()).to_owned())
            .collect();
        Ok((response.decision() == cedar_policy::Decision::Allow, ids))
    }
}

fn render(e: &dyn std::fmt::Display) -> String {
    e.to_string()
}

fn principal_entity(p: &Principal) -> Result<(EntityUid, Entity), String> {
    let mut attrs = HashMap::from([
        ("agency".to_owned(), string(&p.agency)),
        ("country".to_owned(), string(&p.country)),
        ("clearance".to_owned(), RestrictedExpression::new_long(p.clearance)),
    ]);
    let (id, parents) = match &p.kind {
        PrincipalKind::User => {
            attrs.insert("cases".into(), strings(p.cases.iter().map(String::as_str)));
            let parents = p.roles.iter().map(|r| uid("Limes::Role", r.as_str())).collect();
            (uid("Limes::User", &p.id), parents)
        }
        PrincipalKind::Token(grant) => {
            attrs.insert("scope".into(), strings(grant.scope.iter().map(|op| op.id())));
            (uid("Limes::Token", &p.id), HashSet::new())
        }
    };
    let entity = Entity::new(id.clone(), attrs, parents).map_err(|e| render(&e))?;
    Ok((id, entity))
}

fn resource_entity(r: &Resource) -> Result<(EntityUid, Entity), String> {
    let kind = match r.kind {
        ResourceKind::Node => "Limes::Node",
        ResourceKind::Camera => "Limes::Camera",
    };
    let id = uid(kind, &r.id);
    let attrs = HashMap::from([
        ("agency".to_owned(), string(&r.agency)),
        ("country".to_owned(), string(&r.country)),
        ("sensitivity".to_owned(), RestrictedExpression::new_long(r.sensitivity)),
    ]);
    let entity = Entity::new(id.clone(), attrs, HashSet::new()).map_err(|e| render(&e))?;
    Ok((id, entity))
}

#[cfg(test)]
mod tests;
