//! jobgen's runtime: the job model and state machine, the DynamoDB store, the ECS launcher and the
//! two Lambda handlers (create-job and track) the synthesized stack deploys.
//!
//! Without the default `aws` feature the crate is only the generator/runtime [`contract`] and the
//! pure [`fargate`] facts, so the generator can share them without linking the AWS SDK.

pub mod contract;
pub mod fargate;
