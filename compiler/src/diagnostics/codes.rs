//! The registry of diagnostic codes. A code, once published, is never reused
//! for another problem. Each one has a section in `docs/errors.md`, which is
//! also the text `flowc explain CODE` prints.

use super::Severity;

macro_rules! codes {
    ($($variant:ident = $id:literal, $severity:ident, $title:literal;)*) => {
        /// A stable diagnostic code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $(#[doc = $title] $variant,)*
        }

        impl Code {
            /// Every code, in registry order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// `E0001`, `W0001`, ...
            pub fn id(self) -> &'static str {
                match self { $(Code::$variant => $id,)* }
            }

            /// The default message: a short lowercase summary.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }
        }
    };
}

codes! {
    // Syntax and literals.
    Syntax = "E0001", Error, "syntax error";
    InvalidTime = "E0002", Error, "impossible time of day";
    InvalidDate = "E0003", Error, "impossible date";
    InvalidEscape = "E0004", Error, "unknown escape in string";
    NumberOutOfRange = "E0005", Error, "number out of range";
    NotUtf8 = "E0006", Error, "file is not valid UTF-8";
    TooDeep = "E0007", Error, "expression nested or chained too deeply";
    // Names.
    UnknownField = "E0010", Error, "unknown contact field";
    UnknownTemplate = "E0011", Error, "unknown template";
    UnknownEvent = "E0012", Error, "unknown event";
    UnknownMessage = "E0013", Error, "no such message in this flow";
    UnknownName = "E0014", Error, "unknown name";
    UnknownFlow = "E0015", Error, "unknown flow";
    UnknownSetting = "E0016", Error, "unknown setting";
    UnknownTimeZone = "E0017", Error, "unknown time zone";
    UnknownLink = "E0018", Error, "unknown link";
    UnknownChannel = "E0019", Error, "unknown channel";
    AmbiguousName = "E0020", Error, "ambiguous name";
    UnknownWebhook = "E0021", Error, "unknown webhook";
    UnknownKind = "E0022", Error, "unknown kind of message";
    // Types.
    TypeMismatch = "E0030", Error, "mismatched types";
    NotBoolean = "E0031", Error, "condition is not true or false";
    InvalidSettingValue = "E0032", Error, "invalid setting value";
    NotADate = "E0033", Error, "trigger needs a date";
    FilterOnNonEvent = "E0034", Error, "`where` needs an event trigger";
    RecurrenceOnNonDate = "E0035", Error, "`yearly` and `once` apply to date fields only";
    NoChannelVersion = "E0036", Error, "template has no version for this channel";
    MissingTemplateVariable = "E0037", Error, "template variable the contact cannot supply";
    NoAddressField = "E0038", Error, "no contact field holds the address";
    // Time.
    OffsetTooLong = "E0040", Error, "offset longer than a year";
    OfferNotIssued = "E0041", Error, "no offer issued earlier in this flow";
    ReferenceBeforeSend = "E0042", Error, "message referred to before it is sent";
    // Structure.
    DuplicateFlow = "E0050", Error, "duplicate flow name";
    DuplicateRuleName = "E0051", Error, "duplicate rule name";
    DuplicateSetting = "E0052", Error, "setting given twice";
    InvalidPolicy = "E0053", Error, "invalid policy";
    // Project inputs.
    InvalidProject = "E0060", Error, "invalid project file";
    InvalidTemplate = "E0061", Error, "invalid template";
    // Warnings.
    NeverTrue = "W0001", Warning, "condition can never be true";
    AlwaysTrue = "W0002", Warning, "condition is always true";
    DuplicateRule = "W0003", Warning, "duplicate rule";
    UnusedBinding = "W0004", Warning, "anniversary number is never used";
    UnreachableAction = "W0005", Warning, "action after `exit` never runs";
    SendInQuietHours = "W0006", Warning, "send time falls in quiet hours";
    DuplicateSend = "W0007", Warning, "two flows send one message for one occurrence";
    SenderMayBeEmpty = "W0008", Warning, "sender may be empty";
    FilterIgnoresItsEvent = "W0009", Warning, "filter never reads the event it tests";
    RollingDay = "W0010", Warning, "`per 1d` is a rolling 24 hours";
}

impl Code {
    /// Looks a code up by its id, case-insensitively (`e0001` finds `E0001`).
    pub fn from_id(id: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.id().eq_ignore_ascii_case(id.trim()))
    }

    /// The section of `docs/errors.md` for this code: the explanation that
    /// `flowc explain` prints.
    pub fn explanation(self) -> Option<&'static str> {
        section(ERRORS_MD, self.id())
    }
}

const ERRORS_MD: &str = include_str!("../../../docs/errors.md");

/// The text under the `## ID` heading, up to the next `## ` heading.
fn section<'a>(markdown: &'a str, id: &str) -> Option<&'a str> {
    let heading = format!("## {id}");
    let start = markdown
        .match_indices(&heading)
        .find(|(i, _)| *i == 0 || markdown.as_bytes()[i - 1] == b'\n')?
        .0;
    let rest = &markdown[start..];
    let end = rest[3..].find("\n## ").map(|i| i + 4).unwrap_or(rest.len());
    Some(rest[..end].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.id()), "{} registered twice", code.id());
            let prefix = match code.severity() {
                Severity::Error => 'E',
                Severity::Warning => 'W',
            };
            assert!(code.id().starts_with(prefix) && code.id().len() == 5);
            assert_eq!(Code::from_id(&code.id().to_lowercase()), Some(*code));
        }
    }

    #[test]
    fn every_code_is_documented() {
        for code in Code::ALL {
            let text = code
                .explanation()
                .unwrap_or_else(|| panic!("{} has no section in docs/errors.md", code.id()));
            assert!(text.contains("```flow"), "{} has no example", code.id());
        }
    }
}
