//! Every query parameter and form field the dashboard takes, parsed and checked before any call:
//! unknown parameters and bad values are a 400 naming the parameter (the parsers are the CLI's own,
//! `jobgen_ops::parse_status` and `parse_since`, so `?status=` and `--status` accept the same).

use chrono::{DateTime, Utc};
use jobgen_runtime::job::JobStatus;
use serde::Deserialize;

use crate::WebError;

/// Most jobs on one page of the list.
pub const MAX_LIMIT: usize = 100;
/// Jobs on a page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 50;

/// The job list's query string, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// A status name (any case).
    pub status: Option<String>,
    /// A job type.
    #[serde(rename = "type")]
    pub job_type: Option<String>,
    /// A duration back from now or an RFC 3339 time.
    pub since: Option<String>,
    /// Look up one job by id.
    pub id: Option<String>,
    /// Look up one job by its idempotency key.
    pub key: Option<String>,
    /// A page token from a previous page's link.
    pub page: Option<String>,
    /// Jobs per page.
    pub limit: Option<String>,
}

/// The job list's query, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    /// Only this status.
    pub status: Option<JobStatus>,
    /// Only this type.
    pub job_type: Option<String>,
    /// Only jobs created since.
    pub since: Option<DateTime<Utc>>,
    /// The `since` text as given (for links).
    pub since_text: Option<String>,
    /// One job by id.
    pub id: Option<String>,
    /// One job by idempotency key.
    pub key: Option<String>,
    /// The page token.
    pub page: Option<String>,
    /// Jobs per page.
    pub limit: usize,
}

fn bad(message: String) -> WebError {
    WebError::BadRequest(message)
}

/// An empty parameter is the same as none (an empty field of the filter form).
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Checks a job type name: what `jobgen.yaml` allows (letters, digits, `-`, `_`, at most 64).
pub fn job_type(text: &str) -> Result<String, WebError> {
    if text.len() > 64 || !text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(bad(format!("type={text:?}: is not a job type name (letters, digits, - and _, at most 64)")));
    }
    Ok(text.to_string())
}

/// Checks a job id: lowercase letters and digits (a ULID or an idempotency key's hash).
pub fn job_id(text: &str) -> Result<String, WebError> {
    if text.is_empty() || text.len() > 64 || !text.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(bad(format!("id={text:?}: is not a job id (letters and digits, as `jobgen submit` prints)")));
    }
    Ok(text.to_ascii_lowercase())
}

impl ListQuery {
    /// Checks every parameter.
    pub fn check(&self, now: DateTime<Utc>) -> Result<ListParams, WebError> {
        let status = given(&self.status)
            .map(|s| {
                jobgen_ops::parse_status(s)
                    .map_err(|e| bad(format!("{}; {}", e.to_string().replace("--", ""), e.help())))
            })
            .transpose()?;
        let since = given(&self.since)
            .map(|s| {
                jobgen_ops::parse_since(s, now)
                    .map_err(|e| bad(format!("{}; {}", e.to_string().replace("--", ""), e.help())))
            })
            .transpose()?;
        let limit = match given(&self.limit) {
            None => DEFAULT_LIMIT,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => return Err(bad(format!("limit={text:?}: is not a number from 1 to {MAX_LIMIT}"))),
            },
        };
        let page = given(&self.page)
            .map(|p| {
                if p.len() > 8192 || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                    Err(bad("page: is not a page token: follow the list's own next-page link".into()))
                } else {
                    Ok(p.to_string())
                }
            })
            .transpose()?;
        let key = given(&self.key)
            .map(|k| {
                if k.chars().count() > jobgen_runtime::create_job::IDEMPOTENCY_KEY_MAX_CHARS
                    || k.chars().any(char::is_control)
                {
                    Err(bad(format!(
                        "key: an idempotency key is 1-{} characters without control characters",
                        jobgen_runtime::create_job::IDEMPOTENCY_KEY_MAX_CHARS
                    )))
                } else {
                    Ok(k.to_string())
                }
            })
            .transpose()?;
        Ok(ListParams {
            status,
            job_type: given(&self.job_type).map(job_type).transpose()?,
            since,
            since_text: given(&self.since).map(str::to_string),
            id: given(&self.id).map(job_id).transpose()?,
            key,
            page,
            limit,
        })
    }
}

impl ListParams {
    /// The filter's query string without the page (for the next-page link and the live rows).
    pub fn filter_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(s) = self.status {
            pairs.push(("status", s.as_str().to_string()));
        }
        if let Some(t) = &self.job_type {
            pairs.push(("type", t.clone()));
        }
        if let Some(s) = &self.since_text {
            pairs.push(("since", s.clone()));
        }
        if self.limit != DEFAULT_LIMIT {
            pairs.push(("limit", self.limit.to_string()));
        }
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }
}

/// The stats page's query.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// A duration back from now or an RFC 3339 time (default 7d).
    pub since: Option<String>,
    /// One job type.
    #[serde(rename = "type")]
    pub job_type: Option<String>,
}

impl StatsQuery {
    /// The range's start and the type.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(DateTime<Utc>, String, Option<String>), WebError> {
        let text = given(&self.since).unwrap_or("7d").to_string();
        let since = jobgen_ops::parse_since(&text, now)
            .map_err(|e| bad(format!("{}; {}", e.to_string().replace("--", ""), e.help())))?;
        Ok((since, text, given(&self.job_type).map(job_type).transpose()?))
    }
}

/// A bulk action form: `action=cancel|retry`, one `id` per selected job, `confirm=yes` once the
/// operator confirmed.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkForm {
    /// cancel or retry.
    pub action: BulkAction,
    /// The selected jobs.
    pub ids: Vec<String>,
    /// Whether the operator confirmed.
    pub confirmed: bool,
}

/// What a bulk action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    /// Cancel each job.
    Cancel,
    /// Retry each job.
    Retry,
}

impl BulkAction {
    /// The verb.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkAction::Cancel => "cancel",
            BulkAction::Retry => "retry",
        }
    }
}

/// Most jobs one bulk action takes (a page of the list).
pub const MAX_BULK: usize = MAX_LIMIT;

/// Parses an `application/x-www-form-urlencoded` bulk form.
pub fn bulk_form(body: &str) -> Result<BulkForm, WebError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(body).map_err(|e| bad(format!("the form is not url-encoded: {e}")))?;
    let (mut action, mut ids, mut confirmed) = (None, Vec::new(), false);
    for (k, v) in pairs {
        match k.as_str() {
            "action" => {
                action = Some(match v.as_str() {
                    "cancel" => BulkAction::Cancel,
                    "retry" => BulkAction::Retry,
                    _ => return Err(bad(format!("action={v:?}: is not an action (cancel or retry)"))),
                })
            }
            "id" => {
                let id = job_id(&v)?;
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            "confirm" => confirmed = v == "yes",
            "reason" => {}
            _ => return Err(bad(format!("{k}: is not a field of the bulk form (action, id, confirm)"))),
        }
    }
    let action = action.ok_or_else(|| bad("action: is missing (cancel or retry)".into()))?;
    if ids.is_empty() {
        return Err(bad("id: no job selected: tick the jobs to act on".into()));
    }
    if ids.len() > MAX_BULK {
        return Err(bad(format!("id: {} jobs selected; at most {MAX_BULK} at once", ids.len())));
    }
    Ok(BulkForm { action, ids, confirmed })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn q(status: Option<&str>, since: Option<&str>, limit: Option<&str>) -> ListQuery {
        ListQuery {
            status: status.map(Into::into),
            since: since.map(Into::into),
            limit: limit.map(Into::into),
            ..ListQuery::default()
        }
    }

    #[test]
    fn list_parameters_are_checked_with_messages() {
        let now = Utc::now();
        let p = q(Some("running"), Some("1h"), None).check(now).unwrap();
        assert_eq!((p.status, p.limit), (Some(JobStatus::Running), DEFAULT_LIMIT));
        assert_eq!(p.since, Some(now - chrono::Duration::hours(1)));
        assert_eq!(p.filter_query(), "status=RUNNING&since=1h");
        let e = q(Some("done"), None, None).check(now).unwrap_err().to_string();
        assert!(e.contains("status \"done\": is not a job status") && e.contains("SUCCEEDED"), "{e}");
        assert!(q(None, Some("yesterday"), None).check(now).unwrap_err().to_string().contains("since"));
        assert!(q(None, None, Some("0")).check(now).is_err());
        assert!(q(None, None, Some("101")).check(now).is_err());
        assert_eq!(q(None, Some(""), Some("")).check(now).unwrap().since, None, "an empty field is no filter");
        let bad_type = ListQuery { job_type: Some("a b".into()), ..ListQuery::default() };
        assert!(bad_type.check(now).unwrap_err().to_string().starts_with("type=\"a b\""));
        let bad_page = ListQuery { page: Some("not a token!".into()), ..ListQuery::default() };
        assert!(bad_page.check(now).is_err());
    }

    #[test]
    fn bulk_forms_need_an_action_and_jobs() {
        let f = bulk_form("action=cancel&id=abc&id=def&id=abc").unwrap();
        assert_eq!(f, BulkForm { action: BulkAction::Cancel, ids: vec!["abc".into(), "def".into()], confirmed: false });
        assert!(bulk_form("action=cancel&id=abc&confirm=yes").unwrap().confirmed);
        assert!(bulk_form("action=delete&id=abc").unwrap_err().to_string().contains("cancel or retry"));
        assert!(bulk_form("action=cancel").unwrap_err().to_string().contains("no job selected"));
        assert!(bulk_form("action=cancel&id=../x").is_err());
        assert!(bulk_form("action=cancel&id=a&drop=table").is_err());
    }
}
