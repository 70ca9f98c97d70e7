//! Checked AST: names resolved, types checked, settings typed, timing and
//! conditions analysed. Every problem in every file is reported at once.

mod actions;
mod conditions;
mod overlap;
mod policy;
mod scope;
mod settings;
pub use settings::SETTINGS;
mod timing;
mod triggers;
mod types;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};

use flowc_core::calendar::ZoneDb;

use crate::diagnostics::{Code, Diagnostic};
use crate::program::{Flow, Program};
use crate::project::Project;
use crate::source::{SourceId, Sources};
use crate::syntax::ast::{self, Action, Item};
use crate::syntax::Span;
use scope::{FlowInfo, Scope};

/// Everything the checker reads besides the flows themselves.
pub struct Context<'a> {
    pub sources: &'a Sources,
    pub project: &'a Project,
    pub zones: &'a ZoneDb,
    /// Files with syntax errors: some of their rules are missing, so what
    /// they lack (an offer, a message) is not reported as absent.
    pub incomplete: BTreeSet<SourceId>,
}

/// A flow as written: a `flow` block, or a file's loose rules and settings.
struct FlowSource {
    name: String,
    name_span: Span,
    source: SourceId,
    title: Option<String>,
    settings: Vec<ast::Setting>,
    rules: Vec<ast::Rule>,
}

/// Checks parsed files; their rules move into the program, which is
/// returned when there is no error.
pub fn check(
    context: &Context,
    files: Vec<(SourceId, ast::File)>,
) -> (Option<Program>, Vec<Diagnostic>) {
    check_with_threads_from(context, files, RULES_PER_THREAD)
}

/// `check`, with flows of at least `2 * rules_per_thread` rules checked on
/// two threads (a parameter so that tests can compare both ways).
fn check_with_threads_from(
    context: &Context,
    files: Vec<(SourceId, ast::File)>,
    rules_per_thread: usize,
) -> (Option<Program>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut flow_sources = Vec::new();
    let mut policies = Vec::new();
    for (source, file) in files {
        let mut loose = FlowSource {
            name: flow_name_from_path(context.sources.path(source)),
            name_span: Span::new(0, 0),
            source,
            title: None,
            settings: Vec::new(),
            rules: Vec::new(),
        };
        for item in file.items {
            match item {
                Item::Flow(flow) => flow_sources.push(FlowSource {
                    name: flow.name.node,
                    name_span: flow.name.span,
                    source,
                    title: flow.title.map(|t| t.node),
                    settings: flow.settings,
                    rules: flow.rules,
                }),
                Item::Policy(policy) => policies.push((source, policy)),
                Item::Rule(rule) => loose.rules.push(rule),
                Item::Setting(setting) => loose.settings.push(setting),
            }
        }
        if !loose.rules.is_empty() || !loose.settings.is_empty() {
            flow_sources.push(loose);
        }
    }

    let mut seen: BTreeMap<String, (SourceId, Span)> = BTreeMap::new();
    let mut flows = Vec::new();
    for flow in flow_sources {
        if let Some((source, span)) = seen.get(&flow.name) {
            diagnostics.push(
                Diagnostic::new(
                    Code::DuplicateFlow,
                    flow.source,
                    flow.name_span,
                    "defined again here",
                )
                .with_message(format!("there are two flows named `{}`", flow.name))
                .with_context(*source, *span, "first defined here")
                .with_help("rename one: flow names identify what was sent to whom"),
            );
            continue;
        }
        seen.insert(flow.name.clone(), (flow.source, flow.name_span));
        flows.push(check_flow(
            context,
            flow,
            rules_per_thread,
            &mut diagnostics,
        ));
    }
    let policy = policy::check_policies(&policies, &flows, &mut diagnostics);
    policy::check_quiet_hours(&policy, &flows, &mut diagnostics);
    overlap::duplicate_sends(&flows, context.sources, &mut diagnostics);

    crate::diagnostics::sort(&mut diagnostics);
    let ok = !diagnostics.iter().any(Diagnostic::is_error);
    (ok.then_some(Program { flows, policy }), diagnostics)
}

/// `flows/birthday-offer.flow` → `birthday-offer`: the name of a file's
/// loose rules (public so that editors resolve flow names the same way).
pub fn flow_name_from_path(path: &str) -> String {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    file.strip_suffix(".flow").unwrap_or(file).to_string()
}

fn check_flow(
    context: &Context,
    flow: FlowSource,
    rules_per_thread: usize,
    diagnostics: &mut Vec<Diagnostic>,
) -> Flow {
    let mut info = flow_info(&flow.rules, context.project);
    info.incomplete = context.incomplete.contains(&flow.source);
    let names = rule_names(&flow, diagnostics);
    let mut settings =
        settings::check_settings(context, flow.source, &flow.settings, &info, diagnostics);
    if settings.title.is_none() {
        settings.title = flow.title.clone();
    }
    let named: Vec<(ast::Rule, String)> = flow.rules.into_iter().zip(names).collect();
    let RulesChecked {
        rules,
        refs,
        diagnostics: mut found,
    } = check_rules_in_two(context, flow.source, &info, named, rules_per_thread);
    diagnostics.append(&mut found);
    timing::check_timing(
        flow.source,
        &rules,
        &info,
        &refs,
        settings.send_at,
        diagnostics,
    );
    duplicate_rules(
        flow.source,
        context.sources.text(flow.source),
        &rules,
        diagnostics,
    );
    Flow {
        name: flow.name,
        source: flow.source,
        span: flow.name_span,
        settings,
        rules,
        messages: info.messages,
        offer_rules: info.offer_rules,
    }
}

/// Each rule's trigger, condition and actions checked, in order, with what
/// they reported.
struct RulesChecked {
    rules: Vec<crate::program::Rule>,
    refs: Vec<Vec<scope::MessageRef>>,
    diagnostics: Vec<Diagnostic>,
}

/// A flow with at least twice this many rules is checked on two threads.
const RULES_PER_THREAD: usize = 512;

/// The stack of the second thread: the checks recurse once per operator and
/// bracket, like on the caller's thread.
const STACK_BYTES: usize = 64 * 1024 * 1024;

/// `check_rules` on two threads for a big flow, each on half of the rules;
/// the halves are joined in order, so the result is the one-thread one.
fn check_rules_in_two(
    context: &Context,
    source: SourceId,
    info: &FlowInfo,
    mut rules: Vec<(ast::Rule, String)>,
    rules_per_thread: usize,
) -> RulesChecked {
    if rules.len() < rules_per_thread.saturating_mul(2) {
        return check_rules(context, source, info, rules, 0);
    }
    let offset = rules.len() / 2;
    // Taken by the second thread, or by this one if no thread can start.
    let second = std::sync::Mutex::new(Some(rules.split_off(offset)));
    let take_second = || {
        second
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
            .unwrap_or_default()
    };
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("flowc-check".into())
            .stack_size(STACK_BYTES)
            .spawn_scoped(scope, || {
                check_rules(context, source, info, take_second(), offset)
            });
        let mut checked = check_rules(context, source, info, rules, 0);
        let rest = match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => check_rules(context, source, info, take_second(), offset),
        };
        checked.rules.extend(rest.rules);
        checked.refs.extend(rest.refs);
        checked.diagnostics.extend(rest.diagnostics);
        checked
    })
}

/// Checks `rules` (named), the first being rule number `first_index` of
/// its flow.
fn check_rules(
    context: &Context,
    source: SourceId,
    info: &FlowInfo,
    named: Vec<(ast::Rule, String)>,
    first_index: usize,
) -> RulesChecked {
    let mut diagnostics = Vec::new();
    let mut rules = Vec::with_capacity(named.len());
    let mut refs = Vec::with_capacity(named.len());
    for (index, (rule, name)) in (first_index..).zip(named) {
        let mut scope = Scope::new(
            context.sources,
            source,
            context.project,
            info,
            &mut diagnostics,
        );
        let trigger = triggers::check_trigger(&mut scope, &rule.trigger, index);
        if let Some(condition) = &rule.condition {
            scope.condition(condition, "the condition of a rule");
        }
        actions::check_actions(&mut scope, &rule.actions);
        actions::check_senders(&mut scope, &rule);
        if let (Some(binding), false) = (&scope.binding, scope.binding_used) {
            let binding = binding.clone();
            if let ast::TriggerKind::Anniversary {
                binding: Some(b), ..
            } = &rule.trigger.kind
            {
                scope.report(
                    Diagnostic::new(
                        Code::UnusedBinding,
                        source,
                        b.span,
                        "bound here, never used",
                    )
                    .with_message(format!("`{binding}` is never used"))
                    .with_help(format!(
                        "use it in the condition (`if {binding} == 1`) or drop `as {binding}`"
                    )),
                );
            }
        }
        refs.push(std::mem::take(&mut scope.refs));
        if let Some(condition) = &rule.condition {
            conditions::check_satisfiable(source, condition, &trigger, &mut diagnostics);
        }
        rules.push(crate::program::Rule {
            name,
            trigger,
            ast: rule,
        });
    }
    RulesChecked {
        rules,
        refs,
        diagnostics,
    }
}

fn flow_info(rules: &[ast::Rule], project: &Project) -> FlowInfo {
    let mut info = FlowInfo::default();
    for (index, rule) in rules.iter().enumerate() {
        let sends: Vec<&ast::Send> = rule
            .actions
            .iter()
            .filter_map(|action| match action {
                Action::Send(send) => Some(send),
                _ => None,
            })
            .collect();
        let templates: Vec<String> = sends.iter().map(|s| s.template.node.clone()).collect();
        for template in &templates {
            let entry = info.messages.entry(template.clone()).or_default();
            if !entry.contains(&index) {
                entry.push(index);
            }
        }
        if let Some(label) = &rule.label {
            info.messages
                .entry(label.node.clone())
                .or_default()
                .push(index);
        }
        let issues_offer = issues_offer(&sends, project);
        if issues_offer != Some(false) {
            info.offer_rules.push(index);
        }
        info.templates_by_rule.push(templates);
        info.issues_offer.push(issues_offer);
    }
    info
}

/// Whether these sends issue a coupon (see `FlowInfo::issues_offer`).
fn issues_offer(sends: &[&ast::Send], project: &Project) -> Option<bool> {
    if sends.iter().any(|send| send.coupon.is_some()) {
        return Some(true);
    }
    let Some(templates) = &project.templates else {
        // Without templates we cannot know: give the flow the benefit of the doubt.
        return if sends.is_empty() { Some(false) } else { None };
    };
    Some(sends.iter().any(|send| {
        templates
            .get(&send.template.node)
            .is_some_and(|t| t.variants.values().any(|v| v.coupon.is_some()))
    }))
}

/// Each rule's stable name; two rules may not share one.
fn rule_names(flow: &FlowSource, diagnostics: &mut Vec<Diagnostic>) -> Vec<String> {
    let names: Vec<String> = flow
        .rules
        .iter()
        .enumerate()
        .map(|(index, rule)| match &rule.label {
            Some(label) => label.node.clone(),
            None => rule
                .actions
                .first()
                .map(default_rule_name)
                .unwrap_or_else(|| format!("rule{}", index + 1)),
        })
        .collect();
    // The first rule of each name, found by hashing the name in place.
    let mut seen: HashMap<&str, (Span, &ast::Rule)> = HashMap::with_capacity(names.len());
    for (rule, name) in flow.rules.iter().zip(&names) {
        let span = rule
            .label
            .as_ref()
            .map(|l| l.span)
            .unwrap_or(rule.trigger.span);
        let (first, first_rule) = match seen.entry(name.as_str()) {
            Entry::Occupied(first) => *first.get(),
            Entry::Vacant(slot) => {
                slot.insert((span, rule));
                continue;
            }
        };
        // An exact copy is reported once, as W0003, by `duplicate_rules`.
        if same_rule(first_rule, rule) {
            continue;
        }
        diagnostics.push(
            Diagnostic::new(Code::DuplicateRuleName, flow.source, span, format!("this rule is also named `{name}`"))
                .with_message(format!("two rules of flow `{}` are named `{name}`", flow.name))
                .with_context(flow.source, first, "the first one")
                .with_help(format!(
                    "label one of them, e.g. `{name}_again: on ...`: the name identifies what a contact was sent"
                )),
        );
    }
    drop(seen);
    names
}

/// A rule without a label is named after what it does first.
fn default_rule_name(action: &Action) -> String {
    match action {
        Action::Send(send) => send.template.node.clone(),
        Action::Task { kind, .. } => format!("task_{}", kind.node),
        Action::Webhook { name, .. } => format!("webhook_{}", name.node),
        Action::SetField { field, .. } => format!("set_{}", field.node),
        Action::Tag { .. } => "tag".to_string(),
        Action::Untag { .. } => "untag".to_string(),
        Action::Exit { .. } => "exit".to_string(),
    }
}

/// Whether two rules say the same thing (labels and layout aside).
fn same_rule(a: &ast::Rule, b: &ast::Rule) -> bool {
    a.trigger == b.trigger
        && a.condition == b.condition
        && a.actions == b.actions
        && a.send_time == b.send_time
}

/// W0003: two rules that say exactly the same thing. Rules are bucketed by
/// their text (label dropped, whitespace collapsed) so this stays linear in
/// the number of rules; equal trees within a bucket are duplicates.
fn duplicate_rules(
    source: SourceId,
    text: &str,
    rules: &[crate::program::Rule],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let body = |rule: &crate::program::Rule| {
        text.get(rule.ast.trigger.span.start..rule.ast.span.end)
            .unwrap_or("")
    };
    // Buckets by a hash of the words; within one, the words are compared.
    let mut seen: HashMap<u64, Vec<usize>> = HashMap::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let words = body(rule);
        let mut hasher = std::hash::DefaultHasher::new();
        for_each_word(words, |word| word.hash(&mut hasher));
        let bucket = seen.entry(hasher.finish()).or_default();
        let same = bucket
            .iter()
            .map(|&j| &rules[j])
            .find(|earlier| same_words(body(earlier), words) && same_rule(&earlier.ast, &rule.ast));
        if let Some(earlier) = same {
            diagnostics.push(
                Diagnostic::new(
                    Code::DuplicateRule,
                    source,
                    rule.ast.span,
                    "this rule repeats another",
                )
                .with_message("this rule is a copy of an earlier one")
                .with_context(source, earlier.ast.span, "the same rule")
                .with_help("delete one of them"),
            );
        } else {
            bucket.push(i);
        }
    }
}

/// Calls `f` on each whitespace-separated word of `text`. ASCII text
/// without a vertical tab (the one ASCII character `char::is_whitespace`
/// and `u8::is_ascii_whitespace` disagree on) takes the faster byte split.
fn for_each_word<'a>(text: &'a str, f: impl FnMut(&'a str)) {
    if text.is_ascii() && !text.contains('\u{b}') {
        text.split_ascii_whitespace().for_each(f)
    } else {
        text.split_whitespace().for_each(f)
    }
}

/// Whether `a` and `b` have the same words (whitespace aside).
fn same_words(a: &str, b: &str) -> bool {
    let mut words = Vec::new();
    for_each_word(a, |word| words.push(word));
    let mut others = words.iter();
    let mut same = true;
    for_each_word(b, |word| same &= others.next() == Some(&word));
    same && others.next().is_none()
}

#[cfg(test)]
mod tests;
