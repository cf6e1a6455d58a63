//! jobgen's runtime: the job model and state machine, the DynamoDB store, the ECS launcher and the
//! two Lambda handlers (create-job and track) the synthesized stack deploys.
//!
//! Without the default `aws` feature the crate is only the generator/runtime [`contract`], the
//! pure [`fargate`] facts and the pure halves of the handlers (job model, event types, request
//! validation, event planning), so the generator can share them without linking the AWS SDK.
//!
//! Module map: [`contract`] (names both crates share) · [`config`] (handler configuration from the
//! environment) · [`job`] (the record and its statuses) · [`machine`] (the transition table every
//! write is checked against) · [`event`] (ECS task state change types) · [`launch`] (RunTask
//! parameters, launch outcomes, failure classes, retry policy) · `launcher` (RunTask and StopTask
//! with retries) · `store` (DynamoDB conditional writes, guards rendered from the table, and
//! listings) · `service` (the launch service: launch, claim and relaunch, stop, and the
//! concurrency limits' admission and release) · [`create_job`] and [`track`] (the handlers, thin
//! callers of the store and the service) · [`error`] (error text shared by the AWS-facing modules).
//!
//! Dependencies point one way (no module circles): `job` ← `machine` ← `store` ← `service` ←
//! `create_job`; `launch` ← `launcher` ← `service`; `launch` ← `store`; `track` → `machine`,
//! `store`, `service`. The store knows neither the launcher nor the tracker.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod config;
pub mod contract;
pub mod create_job;
pub mod error;
pub mod event;
pub mod fargate;
pub mod job;
pub mod launch;
#[cfg(feature = "aws")]
pub mod launcher;
pub mod machine;
pub mod progress;
pub mod schedule;
#[cfg(feature = "aws")]
pub mod service;
#[cfg(feature = "aws")]
pub mod store;
#[cfg(feature = "aws")]
pub mod timers;
pub mod track;
