//! The abstract syntax tree: what a `.flow` file says, with a span on every
//! node. Produced by `syntax::parse`, read by `check`. Holds no pest types.

use super::span::{Span, Spanned};

/// A name as written, e.g. a field, a template, a flow.
pub type Ident = Spanned<String>;

/// One parsed source file.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    pub items: Vec<Item>,
}

// A file holds a handful of items: their size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Flow(FlowDecl),
    Policy(PolicyDecl),
    /// A rule outside any `flow { }` block: it belongs to the file's flow.
    Rule(Rule),
    /// A setting outside any block: it belongs to the file's flow.
    Setting(Setting),
}

/// `flow NAME "title" { settings and rules }`
#[derive(Clone, Debug, PartialEq)]
pub struct FlowDecl {
    pub name: Ident,
    pub title: Option<Spanned<String>>,
    pub settings: Vec<Setting>,
    pub rules: Vec<Rule>,
    pub span: Span,
}

/// `key: value`
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    pub key: Ident,
    pub value: SettingValue,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SettingValue {
    Expr(Expr),
    /// A bare word that is not an expression, such as a keyword (`once`).
    Word(Ident),
}

impl SettingValue {
    pub fn span(&self) -> Span {
        match self {
            SettingValue::Expr(e) => e.span,
            SettingValue::Word(w) => w.span,
        }
    }
}

/// `[label:] when TRIGGER [at TIME] [if CONDITION] ACTION [then ACTION]...`
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub label: Option<Ident>,
    pub trigger: Trigger,
    pub send_time: Option<Spanned<TimeOfDay>>,
    pub condition: Option<Expr>,
    pub actions: Vec<Action>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Trigger {
    pub kind: TriggerKind,
    pub offset: Option<Offset>,
    /// `where EXPR` on an event trigger.
    pub filter: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Recurrence {
    Yearly,
    Once,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TriggerKind {
    /// A date field, an event, or a message of this flow, e.g. `birthday`.
    Named {
        recurrence: Option<Spanned<Recurrence>>,
        name: Ident,
    },
    /// `anniversary of joined as n`
    Anniversary {
        field: Ident,
        binding: Option<Ident>,
    },
    /// `no visit for 60d`
    Inactivity {
        event: Ident,
        period: Spanned<Duration>,
    },
    /// `loyalty_tier becomes "gold"`
    Becomes { field: Ident, value: Expr },
    /// `delivery_status changes`
    Changes { field: Ident },
    /// `2027-03-01`
    FixedDate(Spanned<Date>),
}

/// A signed offset from the trigger's base: `- 15d`, `3d after`.
#[derive(Clone, Debug, PartialEq)]
pub struct Offset {
    pub direction: Direction,
    pub amount: Spanned<Duration>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Before,
    After,
}

/// The units of durations, and the channels of messages: the core's, one
/// type from the source to the VM.
pub use flowc_core::bytecode::Channel;
pub use flowc_core::calendar::Unit;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Duration {
    pub amount: u32,
    pub unit: Unit,
}

impl Duration {
    /// The longest this duration can be, in days (months count 31, years 366).
    pub fn max_days(&self) -> u64 {
        let per_unit = match self.unit {
            Unit::Minutes => return u64::from(self.amount) / (24 * 60),
            Unit::Hours => return u64::from(self.amount) / 24,
            Unit::Days => 1,
            Unit::Weeks => 7,
            Unit::Months => 31,
            Unit::Years => 366,
        };
        u64::from(self.amount) * per_unit
    }

    /// Its typical length in minutes (months of 30 days, years of 365): only
    /// for ordering rules within one occurrence, never for scheduling.
    pub fn typical_minutes(&self) -> i64 {
        let per_unit = match self.unit {
            Unit::Minutes => 1,
            Unit::Hours => 60,
            Unit::Days => 1440,
            Unit::Weeks => 7 * 1440,
            Unit::Months => 30 * 1440,
            Unit::Years => 365 * 1440,
        };
        i64::from(self.amount) * per_unit
    }
}

impl Duration {
    /// The calendar's offset for this duration, negative `Before`.
    pub fn to_offset(self, direction: Direction) -> flowc_core::calendar::Offset {
        let unit = self.unit;
        let amount = i64::from(self.amount);
        let signed = if direction == Direction::Before {
            -amount
        } else {
            amount
        };
        flowc_core::calendar::Offset::new(signed, unit)
    }
}

impl std::fmt::Display for Duration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.suffix())
    }
}

/// A wall-clock time, validated: hour < 24, minute < 60.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
}

impl std::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

/// A calendar date, validated (no 30 February).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    pub year: i16,
    pub month: u8,
    pub day: u8,
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Send(Send),
    /// `task call for account_manager note "..." due 2d`
    Task {
        kind: Ident,
        assignee: Option<Expr>,
        note: Option<Expr>,
        due: Option<Spanned<Duration>>,
        span: Span,
    },
    /// `webhook crm_update with key = value`
    Webhook {
        name: Ident,
        vars: Vec<Assignment>,
        span: Span,
    },
    /// `set field = value`
    SetField {
        field: Ident,
        value: Expr,
        span: Span,
    },
    Tag {
        value: Expr,
        span: Span,
    },
    Untag {
        value: Expr,
        span: Span,
    },
    Exit {
        span: Span,
    },
}

impl Action {
    pub fn span(&self) -> Span {
        match self {
            Action::Send(send) => send.span,
            Action::Task { span, .. }
            | Action::Webhook { span, .. }
            | Action::SetField { span, .. }
            | Action::Tag { span, .. }
            | Action::Untag { span, .. }
            | Action::Exit { span } => *span,
        }
    }
}

/// `send [channel] TEMPLATE [from EXPR] [with coupon valid 30d, var = EXPR]`
#[derive(Clone, Debug, PartialEq)]
pub struct Send {
    pub channel: Option<Spanned<Channel>>,
    pub template: Ident,
    pub sender: Option<Expr>,
    pub coupon: Option<Coupon>,
    pub vars: Vec<Assignment>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Coupon {
    pub validity: Option<Spanned<Duration>>,
    pub span: Span,
}

/// `name = EXPR`
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    pub name: Ident,
    pub value: Expr,
}

/// `policy [NAME] { at most 3 messages per 7d; priority a > b; quiet hours 21:00 to 08:00 }`
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyDecl {
    pub name: Option<Ident>,
    pub items: Vec<PolicyItem>,
    pub span: Span,
}

/// What a pressure cap counts over.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CapWindow {
    /// `per day`: the contact's local calendar day.
    LocalDay,
    /// `per 24h`, `per 7d`: the period before the send.
    Rolling(Duration),
}

#[derive(Clone, Debug, PartialEq)]
pub enum PolicyItem {
    Cap {
        count: Spanned<u32>,
        scope: Spanned<CapScope>,
        window: Spanned<CapWindow>,
        span: Span,
    },
    Priority {
        flows: Vec<Ident>,
        span: Span,
    },
    QuietHours {
        from: Spanned<TimeOfDay>,
        to: Spanned<TimeOfDay>,
        span: Span,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CapScope {
    Messages,
    Channel(Channel),
    Tasks,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// Stands for an expression already reported as invalid (too long, a
    /// number out of range): unknown to every later analysis, so one
    /// mistake gives one diagnostic.
    Invalid,
    Literal(Literal),
    List(Vec<Expr>),
    /// `first_name`, `event.product`, `n`
    Path(Vec<Ident>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `EXPR is set` / `EXPR is not set`
    IsSet {
        expr: Box<Expr>,
        negated: bool,
    },
    /// `sent offer`
    Sent(Ident),
    /// `opened offer`
    Opened(Ident),
    /// `clicked presentation [link "product_b"]`
    Clicked {
        message: Ident,
        link: Option<Spanned<String>>,
    },
    /// `used [offer]`: the coupon of that message was redeemed.
    Used(Option<Ident>),
    /// `unused [offer]`
    Unused(Option<Ident>),
    /// `consent sms`
    Consent(Ident),
    /// `tagged "vip"`
    Tagged(Spanned<String>),
    /// `purchase [where FILTER] since presentation` / `visit within 30d`
    Happened {
        event: Ident,
        filter: Option<Box<Expr>>,
        point: Point,
    },
}

/// Where a `happened` test starts counting.
#[derive(Clone, Debug, PartialEq)]
pub enum Point {
    /// Since a message of this flow was sent (for this occurrence).
    Since(Ident),
    /// In the last duration before now.
    Within(Spanned<Duration>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Bool(bool),
    Number(f64),
    String(String),
    Duration(Duration),
    Date(Date),
    Time(TimeOfDay),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::In => "in",
            BinaryOp::NotIn => "not in",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }
}
