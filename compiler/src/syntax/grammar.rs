//! The pest parser generated from `grammar/flow.pest`. Only `syntax` sees it.

#[derive(pest_derive::Parser)]
#[grammar = "../../grammar/flow.pest"]
pub struct FlowParser;
