//! The agreement as Cedar rules, and the decisions taken with them at send, at receive and at
//! access.
//!
//! Each flow becomes one `permit` (this direction, this category) and one `forbid` per
//! restriction it carries (purposes, plates, images, mode, its own dates, retention); two
//! `forbid`s hold for the whole agreement (its validity, and onward transfer of a third
//! party's data). Cedar denies what no permit allows, so a category no flow names never
//! crosses. Every rule has an id (`@id`) that decisions and audit records name, and removing
//! any one of them changes what crosses, which `tests/policy.rs` checks against an oracle
//! written without Cedar.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Policy, PolicyId, PolicySet, Request,
    RestrictedExpression, Schema, ValidationMode, Validator,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::category::Category;
use crate::document::{Agreement, ImageRule, Mode, PlateRule, end_of, start_of};

/// The entities, actions and context every agreement's rules are written against.
pub const SCHEMA: &str = r#"
namespace Sharing {
  entity Agency;
  entity Record = {
    category: String,
    origin: String,
    purpose: String,
    plates: String,
    images: String,
    shape: String,
    approved_request: Bool,
    onward_permitted: Bool,
    age_days: Long,
  };
  type Flow = { from: String, to: String, now: Long };
  action "send", "receive", "access" appliesTo { principal: [Agency], resource: [Record], context: Flow };
}
"#;

/// When a decision is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Act {
    /// Before a record is queued for a partner.
    Send,
    /// When a partner's record arrives, before it is stored.
    Receive,
    /// When someone at the receiving node uses the record, for a declared purpose.
    Access,
}

impl Act {
    pub fn id(self) -> &'static str {
        match self {
            Act::Send => "send",
            Act::Receive => "receive",
            Act::Access => "access",
        }
    }
}

/// How a record shows plates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlateForm {
    None,
    Pseudonymised,
    Clear,
}

/// How a record shows images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageForm {
    None,
    Blurred,
    Clear,
}

/// Whether a record is the data itself or only a hit/no-hit answer about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    Full,
    HitNoHit,
}

/// What a message says about the data it carries. Signed in the envelope, so the receiver
/// checks the same labels the sender was allowed to send, and the receiving application
/// checks that the payload matches them (a record labelled pseudonymised has no clear plate).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    pub category: Category,
    /// The agency whose data it is (the sender, unless it passes on a third party's data).
    pub origin: String,
    /// The purpose the record is shared for.
    pub purpose: String,
    pub plates: PlateForm,
    pub images: ImageForm,
    pub shape: Shape,
    /// The approved request the record answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// For a third party's data: the agreement under which its origin allowed passing it on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onward: Option<String>,
}

impl Labels {
    /// A full record of `category` from `origin` for `purpose`: plates in clear, no images,
    /// not the answer to a request, not passed on. Other forms by struct update.
    pub fn full(category: Category, origin: impl Into<String>, purpose: impl Into<String>) -> Self {
        Self {
            category,
            origin: origin.into(),
            purpose: purpose.into(),
            plates: PlateForm::Clear,
            images: ImageForm::None,
            shape: Shape::Full,
            request: None,
            onward: None,
        }
    }
}

/// One decision's question.
#[derive(Debug, Clone, Copy)]
pub struct Question<'a> {
    pub act: Act,
    /// The agency the data flows from (whose node sends it).
    pub from: &'a str,
    /// The agency it flows to.
    pub to: &'a str,
    pub labels: &'a Labels,
    /// Whether `labels.request` names a request the owner approved (the edge knows).
    pub approved_request: bool,
    /// Whether passing on a third party's data is permitted (the edge asks the agreement
    /// with the origin, [`Agreement::onward_permitted`]).
    pub onward_permitted: bool,
    /// For [`Act::Access`]: whole days since the record arrived.
    pub age_days: u32,
    pub now: DateTime<Utc>,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// In words, for the audit log and the API.
    pub reason: String,
    /// The rules that decided: the permit that allowed, or the forbids that refused.
    pub rules: Vec<String>,
}

/// Why an agreement cannot be turned into rules.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("the agreement is incoherent: {0}")]
    Incoherent(String),
    /// A bug in limes: the generated rules do not parse or validate.
    #[error("generated rule {id} is not valid Cedar: {message}")]
    Rule { id: String, message: String },
    #[error("schema: {0}")]
    Schema(String),
}

/// An agreement compiled into validated Cedar rules.
#[derive(Debug, Clone)]
pub struct SharingPolicy {
    agreement_id: String,
    /// Rule id → (Cedar text, what the rule says in words), in generation order.
    rules: BTreeMap<String, (String, String)>,
    order: Vec<String>,
    set: PolicySet,
    schema: Schema,
    authorizer: std::sync::Arc<Authorizer>,
}

fn type_name(name: &str) -> EntityTypeName {
    // Names are constants of this module; a typo fails every test.
    EntityTypeName::from_str(name).expect("valid entity type name")
}

fn uid(kind: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name(kind), EntityId::new(id))
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

/// A Cedar string literal (JSON escaping is a subset of what Cedar reads).
fn lit(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn form_id<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

impl SharingPolicy {
    /// The rules of a coherent agreement (signatures are checked by [`crate::load`]).
    pub fn compile(agreement: &Agreement) -> Result<Self, PolicyError> {
        let problems = crate::coherence::check(agreement);
        if !crate::coherence::is_coherent(&problems) {
            let errors: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(PolicyError::Incoherent(errors.join("; ")));
        }
        let mut rules = Vec::new();
        let (s, e) = (start_of(agreement.valid_from).timestamp(), end_of(agreement.valid_until).timestamp());
        rules.push((
            "in-force".to_owned(),
            format!("forbid(principal, action, resource) when {{ context.now < {s} || context.now >= {e} }};"),
            format!("the agreement is in force from {} to {} only", agreement.valid_from, agreement.valid_until),
        ));
        rules.push((
            "onward".to_owned(),
            "forbid(principal, action, resource) when { resource.origin != context.from && !resource.onward_permitted };"
                .to_owned(),
            "a third party's data is passed on only where its origin allowed it".to_owned(),
        ));
        for f in &agreement.flows {
            let id = format!("{}>{}:{}", f.from, f.to, f.category);
            let this = format!(
                "principal == Sharing::Agency::{}, action, resource) when {{ context.to == {} && resource.category == {}",
                lit(&f.from),
                lit(&f.to),
                lit(f.category.id())
            );
            rules.push((
                id.clone(),
                format!("permit({this} }};"),
                format!("{} may flow from {} to {}", f.category.words(), f.from, f.to),
            ));
            let purposes: Vec<String> = f.purposes.iter().map(|p| lit(p)).collect();
            rules.push((
                format!("{id}/purposes"),
                format!("forbid({this} && !([{}].contains(resource.purpose)) }};", purposes.join(", ")),
                format!("only for {}", f.purposes.join(", ")),
            ));
            if f.plates == PlateRule::Pseudonymised {
                rules.push((
                    format!("{id}/plates"),
                    format!("forbid({this} && resource.plates == \"clear\" }};"),
                    "plates only pseudonymised".to_owned(),
                ));
            }
            match f.images {
                ImageRule::None => rules.push((
                    format!("{id}/images"),
                    format!("forbid({this} && resource.images != \"none\" }};"),
                    "no images".to_owned(),
                )),
                ImageRule::Blurred => rules.push((
                    format!("{id}/images"),
                    format!("forbid({this} && resource.images == \"clear\" }};"),
                    "images only blurred".to_owned(),
                )),
                ImageRule::Clear => {}
            }
            match f.mode {
                Mode::Push => {}
                Mode::HitNoHit => rules.push((
                    format!("{id}/mode"),
                    format!("forbid({this} && resource.shape == \"full\" && !resource.approved_request }};"),
                    "hit/no-hit only, full records on an approved request".to_owned(),
                )),
                Mode::OnRequest => rules.push((
                    format!("{id}/mode"),
                    format!("forbid({this} && !resource.approved_request }};"),
                    "only on an approved request".to_owned(),
                )),
            }
            if f.valid_from.is_some() || f.valid_until.is_some() {
                let (ws, we) = f.window(agreement);
                let (fs, fe) = (ws.timestamp(), we.timestamp());
                rules.push((
                    format!("{id}/dates"),
                    format!("forbid({this} && (context.now < {fs} || context.now >= {fe}) }};"),
                    format!("only from {} until before {}", ws.date_naive(), we.date_naive()),
                ));
            }
            rules.push((
                format!("{id}/retention"),
                format!(
                    "forbid(principal == Sharing::Agency::{}, action == Sharing::Action::\"access\", resource) when {{ \
                     context.to == {} && resource.category == {} && resource.age_days > {} }};",
                    lit(&f.from),
                    lit(&f.to),
                    lit(f.category.id()),
                    f.retention_days
                ),
                format!("kept {} days", f.retention_days),
            ));
        }
        let (schema, _) = Schema::from_cedarschema_str(SCHEMA).map_err(|e| PolicyError::Schema(e.to_string()))?;
        let order = rules.iter().map(|(id, _, _)| id.clone()).collect();
        let rules = rules.into_iter().map(|(id, text, words)| (id, (text, words))).collect();
        Self::build(agreement.id.clone(), rules, order, schema)
    }

    fn build(
        agreement_id: String,
        rules: BTreeMap<String, (String, String)>,
        order: Vec<String>,
        schema: Schema,
    ) -> Result<Self, PolicyError> {
        let mut set = PolicySet::new();
        for id in &order {
            let (text, _) = &rules[id];
            let bad = |message: String| PolicyError::Rule { id: id.clone(), message };
            let policy = Policy::parse(Some(PolicyId::new(id)), text).map_err(|e| bad(e.to_string()))?;
            set.add(policy).map_err(|e| bad(e.to_string()))?;
        }
        let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
        if !result.validation_passed() {
            let errors: Vec<String> = result.validation_errors().map(ToString::to_string).collect();
            return Err(PolicyError::Rule { id: "(set)".into(), message: errors.join("; ") });
        }
        Ok(Self { agreement_id, rules, order, set, schema, authorizer: std::sync::Arc::new(Authorizer::new()) })
    }

    /// The rule ids, in the order they were generated.
    pub fn rule_ids(&self) -> &[String] {
        &self.order
    }

    /// A rule's Cedar text.
    pub fn rule_text(&self, id: &str) -> Option<&str> {
        self.rules.get(id).map(|(t, _)| t.as_str())
    }

    /// All rules as one Cedar text, with their ids as annotations.
    pub fn to_cedar(&self) -> String {
        let mut out = String::new();
        for id in &self.order {
            let (text, words) = &self.rules[id];
            out.push_str(&format!("// {words}\n@id({})\n{text}\n\n", lit(id)));
        }
        out
    }

    /// The same rules without one (for the test that shows every rule matters).
    pub fn without(&self, rule: &str) -> Result<Self, PolicyError> {
        let mut rules = self.rules.clone();
        rules.remove(rule);
        let order = self.order.iter().filter(|id| *id != rule).cloned().collect();
        Self::build(self.agreement_id.clone(), rules, order, self.schema.clone())
    }

    /// Decides one question. Errors in evaluation deny.
    pub fn decide(&self, q: &Question<'_>) -> Decision {
        match self.ask(q) {
            Ok((true, rules)) => Decision { allowed: true, reason: format!("allowed by {}", self.agreement_id), rules },
            Ok((false, rules)) if rules.is_empty() => Decision {
                allowed: false,
                reason: format!(
                    "agreement {} lets no {} flow from {} to {}",
                    self.agreement_id,
                    q.labels.category.words(),
                    q.from,
                    q.to
                ),
                rules,
            },
            Ok((false, rules)) => {
                let words: Vec<String> = rules
                    .iter()
                    .map(|id| format!("{id} ({})", self.rules.get(id).map_or("", |r| r.1.as_str())))
                    .collect();
                Decision {
                    allowed: false,
                    reason: format!("agreement {} refuses: {}", self.agreement_id, words.join("; ")),
                    rules,
                }
            }
            Err(e) => Decision {
                allowed: false,
                reason: format!("the agreement's rules could not decide: {e}"),
                rules: vec![],
            },
        }
    }

    fn ask(&self, q: &Question<'_>) -> Result<(bool, Vec<String>), String> {
        let l = q.labels;
        let principal = uid("Sharing::Agency", q.from);
        let record = uid("Sharing::Record", "record");
        let attrs = HashMap::from([
            ("category".to_owned(), string(l.category.id())),
            ("origin".to_owned(), string(&l.origin)),
            ("purpose".to_owned(), string(&l.purpose)),
            ("plates".to_owned(), string(&form_id(&l.plates))),
            ("images".to_owned(), string(&form_id(&l.images))),
            ("shape".to_owned(), string(&form_id(&l.shape))),
            ("approved_request".to_owned(), RestrictedExpression::new_bool(q.approved_request)),
            ("onward_permitted".to_owned(), RestrictedExpression::new_bool(q.onward_permitted)),
            ("age_days".to_owned(), RestrictedExpression::new_long(i64::from(q.age_days))),
        ]);
        let entities = vec![
            Entity::new_no_attrs(principal.clone(), HashSet::new()),
            Entity::new(record.clone(), attrs, HashSet::new()).map_err(|e| e.to_string())?,
        ];
        let entities = Entities::from_entities(entities, Some(&self.schema)).map_err(|e| e.to_string())?;
        let context = Context::from_pairs([
            ("from".to_owned(), string(q.from)),
            ("to".to_owned(), string(q.to)),
            ("now".to_owned(), RestrictedExpression::new_long(q.now.timestamp())),
        ])
        .map_err(|e| e.to_string())?;
        let action = uid("Sharing::Action", q.act.id());
        let request =
            Request::new(principal, action, record, context, Some(&self.schema)).map_err(|e| e.to_string())?;
        let response = self.authorizer.is_authorized(&request, &self.set, &entities);
        if let Some(e) = response.diagnostics().errors().next() {
            return Err(e.to_string());
        }
        let rules = response.diagnostics().reason().map(|id: &PolicyId| id.to_string()).collect();
        Ok((response.decision() == cedar_policy::Decision::Allow, rules))
    }
}
