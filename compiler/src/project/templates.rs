//! Message templates as the checker sees them: which channels a template
//! has, which variables and links it uses, whether it carries a coupon.
//!
//! A template file is `templates/NAME.CHANNEL[.EXT]` (`offer.email.html`,
//! `offer.sms.txt`), optionally opening with TOML front matter between
//! `+++` lines: `subject`, `coupon` (a validity such as `"30d"`), `links`
//! (name → URL). The body and subject are minijinja templates.

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostics::{Code, Diagnostic};
use crate::source::{SourceId, Sources};
use crate::syntax::ast::Channel;
use crate::syntax::Span;

/// One channel's version of a template.
#[derive(Clone, Debug)]
pub struct TemplateVariant {
    pub source: SourceId,
    /// Top-level names the template reads (`first_name`, `coupon`, ...).
    pub variables: BTreeSet<String>,
    /// Link names declared in the front matter.
    pub links: BTreeSet<String>,
    /// The coupon validity the template declares, as written (`"30d"`).
    pub coupon: Option<String>,
    /// The subject line (e-mail), a template itself.
    pub subject: Option<String>,
    /// The body, after the front matter.
    pub body: String,
    /// Link name → URL, from the front matter.
    pub link_urls: BTreeMap<String, String>,
    /// An HTML body (`.html` file): rendered with HTML escaping.
    pub html: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Template {
    pub variants: BTreeMap<Channel, TemplateVariant>,
}

/// The templates folder, or none when the project has no folder.
#[derive(Clone, Debug, Default)]
pub struct Templates {
    pub by_name: BTreeMap<String, Template>,
}

/// Splits `offer.email.html` into (`offer`, email); `None` for files that
/// are not templates (README, hidden files).
pub fn template_file_name(file_name: &str) -> Option<(&str, Channel)> {
    if file_name.starts_with('.') {
        return None;
    }
    let mut parts = file_name.splitn(3, '.');
    let name = parts.next()?;
    let channel = Channel::from_name(parts.next()?)?;
    (!name.is_empty()).then_some((name, channel))
}

impl Templates {
    /// Reads one template text, adding it under `name` for `channel`.
    pub fn add(
        &mut self,
        sources: &Sources,
        source: SourceId,
        name: &str,
        channel: Channel,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let text = sources.text(source);
        let (front, body, body_offset) = split_front_matter(text);
        let mut variant = TemplateVariant {
            source,
            variables: BTreeSet::new(),
            links: BTreeSet::new(),
            coupon: None,
            subject: None,
            body: body.to_string(),
            link_urls: BTreeMap::new(),
            html: sources.path(source).ends_with(".html") || sources.path(source).ends_with(".htm"),
        };
        let mut subject = None;
        if let Some(front) = front {
            match front.parse::<toml::Table>() {
                Ok(table) => {
                    if let Some(links) = table.get("links").and_then(|l| l.as_table()) {
                        variant.links = links.keys().cloned().collect();
                        variant.link_urls = links
                            .iter()
                            .map(|(k, v)| {
                                (
                                    k.clone(),
                                    v.as_str().map_or_else(|| v.to_string(), str::to_string),
                                )
                            })
                            .collect();
                    }
                    variant.coupon = table.get("coupon").map(|c| match c {
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                    subject = table
                        .get("subject")
                        .and_then(|s| s.as_str())
                        .map(str::to_string);
                }
                Err(error) => {
                    let span = error
                        .span()
                        .map(|r| Span::new(r.start + 4, r.end + 4))
                        .unwrap_or_default();
                    diagnostics.push(
                        Diagnostic::new(Code::InvalidTemplate, source, span, error.message())
                            .with_message(format!(
                                "the front matter of template `{name}` is not valid TOML"
                            )),
                    );
                }
            }
        }
        variant.subject = subject.clone();
        for (part, offset) in [(subject.as_deref(), None), (Some(body), Some(body_offset))] {
            let Some(part) = part else { continue };
            let env = minijinja::Environment::new();
            match env.template_from_str(part) {
                Ok(template) => variant
                    .variables
                    .extend(template.undeclared_variables(false)),
                Err(error) => {
                    let span = match (offset, error.range()) {
                        (Some(base), Some(r)) => Span::new(base + r.start, base + r.end),
                        _ => Span::default(),
                    };
                    diagnostics.push(
                        Diagnostic::new(
                            Code::InvalidTemplate,
                            source,
                            span,
                            error.detail().unwrap_or("here").to_string(),
                        )
                        .with_message(format!(
                            "template `{name}` does not parse: {}",
                            error.kind()
                        )),
                    );
                }
            }
        }
        self.by_name
            .entry(name.to_string())
            .or_default()
            .variants
            .insert(channel, variant);
    }

    pub fn get(&self, name: &str) -> Option<&Template> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

/// (front matter, body, byte offset of the body).
fn split_front_matter(text: &str) -> (Option<&str>, &str, usize) {
    let Some(rest) = text
        .strip_prefix("+++\n")
        .or_else(|| text.strip_prefix("+++\r\n"))
    else {
        return (None, text, 0);
    };
    let start = text.len() - rest.len();
    match rest.find("\n+++") {
        Some(end) => {
            let after = &rest[end + 4..];
            let after = after.strip_prefix('\r').unwrap_or(after);
            let after = after.strip_prefix('\n').unwrap_or(after);
            (Some(&rest[..end]), after, text.len() - after.len())
        }
        None => (None, &text[start..], start),
    }
}

/// The byte span of the first use of `variable` in a template text, for
/// pointing at it in a diagnostic.
pub fn variable_span(text: &str, variable: &str) -> Span {
    let mut from = 0;
    while let Some(i) = text[from..].find(variable) {
        let start = from + i;
        let end = start + variable.len();
        let before_ok = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'));
        let after_ok = text[end..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if before_ok && after_ok {
            return Span::new(start, end);
        }
        from = end;
    }
    Span::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_front_matter_variables_and_links() {
        let mut sources = Sources::new();
        let id = sources.add(
            "templates/offer.email.html",
            "+++\nsubject = \"Hi {{ first_name }}\"\ncoupon = \"30d\"\n[links]\nshop = \"https://x\"\n+++\n<p>{{ coupon.code }} {% if vip %}{{ discount }}{% endif %}</p>\n",
        );
        let mut templates = Templates::default();
        let mut diagnostics = Vec::new();
        templates.add(&sources, id, "offer", Channel::Email, &mut diagnostics);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let variant = &templates.get("offer").unwrap().variants[&Channel::Email];
        let vars: Vec<_> = variant.variables.iter().map(String::as_str).collect();
        assert_eq!(vars, ["coupon", "discount", "first_name", "vip"]);
        assert_eq!(variant.coupon.as_deref(), Some("30d"));
        assert!(variant.links.contains("shop"));
    }

    #[test]
    fn template_syntax_errors_point_into_the_body() {
        let mut sources = Sources::new();
        let id = sources.add("t/x.sms.txt", "Hello {{ first_name ");
        let mut templates = Templates::default();
        let mut diagnostics = Vec::new();
        templates.add(&sources, id, "x", Channel::Sms, &mut diagnostics);
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code, Code::InvalidTemplate);
    }

    #[test]
    fn file_names() {
        assert_eq!(
            template_file_name("offer.email.html"),
            Some(("offer", Channel::Email))
        );
        assert_eq!(
            template_file_name("promo.sms"),
            Some(("promo", Channel::Sms))
        );
        assert_eq!(template_file_name("README.md"), None);
        assert_eq!(template_file_name(".offer.email"), None);
    }
}
