//! Pinterest's async report job rules; the runtime's async retriever does the job flow.
//!
//! Per slice (ad account × date window [× status chunk]): `POST ad_accounts/{id}/reports`
//! creates a job whose id is the answer's `token`, `GET ad_accounts/{id}/reports?token=…` is
//! polled until `report_status` is `FINISHED`, the same endpoint is asked once more for a fresh
//! pre-signed `url` (the one from the completing poll may already have expired), and the file
//! is downloaded without the Authorization header. The file is an object of arrays keyed by
//! entity id; every row of every array is one record (records at `*`). Only one job is in
//! flight for the whole source, as in the official connector.
//!
//! The creation request is a [`RequestTemplate`] for the standard reports
//! ([`standard_creation`]); custom reports build theirs from their config
//! ([`crate::quirks::custom_reports`]).

use connector_runtime::async_retriever::{AsyncJobApi, JobStatus};
use connector_runtime::prelude::*;

/// Builds the creation request of one slice.
pub type Creation = Arc<dyn Fn(&Slice) -> Result<HttpRequest> + Send + Sync>;

/// Pinterest's report jobs: its paths, creation request, status names and download URL.
pub struct ReportJobs {
    pub create: Creation,
}

fn reports_path(slice: &Slice) -> Result<String> {
    let id = slice
        .get_str("id")
        .ok_or_else(|| Error::system("a report slice has no ad account id"))?;
    Ok(format!("ad_accounts/{id}/reports"))
}

impl AsyncJobApi for ReportJobs {
    fn create(&self, slice: &Slice) -> Result<HttpRequest> {
        (self.create)(slice)
    }

    /// The token stays text whatever JSON type it came in.
    fn job_id(&self, created: &Value) -> Option<String> {
        match created.get("token") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    fn poll(&self, slice: &Slice, job: &str) -> Result<HttpRequest> {
        Ok(HttpRequest::get(reports_path(slice)?).query("token", job))
    }

    fn status(&self, polled: &Value) -> Result<JobStatus> {
        match polled.get("report_status") {
            Some(Value::String(s)) if s == "FINISHED" => Ok(JobStatus::Completed),
            Some(Value::String(s)) if s == "IN_PROGRESS" => Ok(JobStatus::Running),
            Some(Value::String(s))
                if matches!(
                    s.as_str(),
                    "DOES_NOT_EXIST" | "EXPIRED" | "FAILED" | "CANCELLED"
                ) =>
            {
                Ok(JobStatus::Failed(format!(
                    "report job ended with status {s}"
                )))
            }
            None | Some(Value::Null) => {
                Ok(JobStatus::Failed("report job timed out (no status)".into()))
            }
            Some(other) => Err(Error::system(format!("API status {other} is unknown"))),
        }
    }

    /// A fresh pre-signed URL, fetched right before the download.
    fn download_target(&self, slice: &Slice, job: &str) -> Result<Option<HttpRequest>> {
        self.poll(slice, job).map(Some)
    }

    fn download_url(&self, answer: &Value) -> Option<String> {
        answer
            .get("url")
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

/// The creation request of a standard report: key order as the official connector sends it.
pub fn standard_creation(level: &str, columns: &[String]) -> Result<Creation> {
    let template = RequestTemplate::post_json(
        "ad_accounts/{partition.id}/reports",
        json!({
            "start_date": "{window.start:%Y-%m-%d}",
            "end_date": "{window.end:%Y-%m-%d}",
            "granularity": "DAY",
            "columns": columns,
            "level": level,
        }),
    )
    .checked()?;
    Ok(Arc::new(move |slice: &Slice| template.render(slice)))
}
