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
//! ([`crate::quirks::custom_reports`]). [`ReportStreams`] declares the report streams of the
//! stream table: one partition per ad account, date windows within Pinterest's history limit.

use connector_runtime::async_retriever::{AsyncJobApi, AsyncRetriever, JobSlots, JobStatus};
use connector_runtime::prelude::*;

use crate::config::CustomReport;
use crate::errors;
use crate::quirks::{custom_reports, saved_cursors};
use crate::streams::{day, end_of_today};

/// What every report stream of a run shares.
pub struct ReportStreams {
    /// The general requester, rows coerced to the schema, top-level nulls left out.
    table: StreamDefaults,
    /// The configured start; never earlier than a report's history limit.
    start_date: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    /// One partition per ad account.
    accounts: PartitionRouter,
    /// Shared by every report stream of the run: one job at a time.
    job_slots: JobSlots,
}

/// How far back a report may start and how long its windows are.
struct ReportDates {
    start: Option<DateTime<Utc>>,
    history_days: i64,
    window_days: i64,
}

impl ReportStreams {
    pub fn new(
        table: StreamDefaults,
        start_date: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        accounts: PartitionRouter,
    ) -> Self {
        ReportStreams {
            table,
            start_date,
            now,
            accounts,
            job_slots: JobSlots::new(1),
        }
    }

    /// A standard report over every ad account: 31-day windows from at most 91 days back for
    /// product items, else 185-day windows from at most 913 days back.
    pub fn standard(
        &self,
        name: &str,
        level: &str,
        columns: &[String],
    ) -> Result<Arc<DeclarativeStream>> {
        let (history_days, window_days) = match level {
            "PRODUCT_ITEM" => (91, 31),
            _ => (913, 185),
        };
        let dates = ReportDates {
            start: self.start_date,
            history_days,
            window_days,
        };
        let create = standard_creation(level, columns)?;
        self.declare(name, create, dates, self.accounts.clone(), true)
            .build()
    }

    /// A configured custom report (see [`crate::quirks::custom_reports`]): its own name,
    /// creation body, status chunk partitions per ad account and windows; the schema they all
    /// share.
    pub fn custom(&self, r: &CustomReport) -> Result<Arc<DeclarativeStream>> {
        let (history_days, window) = custom_reports::history_and_window(r);
        let router = PartitionRouter::Cartesian(vec![
            self.accounts.clone(),
            PartitionRouter::Custom(Arc::new(custom_reports::StatusChunks(
                custom_reports::status_chunk_partitions(r),
            ))),
        ]);
        let dates = ReportDates {
            start: r.start(),
            history_days,
            window_days: (window.as_secs() / 86_400) as i64,
        };
        let create = custom_reports::creation(r.clone());
        self.declare(
            &custom_reports::stream_name(&r.name),
            create,
            dates,
            router,
            false,
        )
        .schema_from("custom_report_template")
        .build()
    }

    /// An async report stream: job creation classified by the analytics rules, then the
    /// general mapping; one job at a time; a per-partition `DATE` cursor (`parent_state` as
    /// the CDK writes it for the stream's router).
    fn declare(
        &self,
        name: &str,
        create: Creation,
        dates: ReportDates,
        router: PartitionRouter,
        parent_state: bool,
    ) -> StreamBuilder {
        let cap = start_of_day(self.now) - Duration::days(dates.history_days);
        let start = dates.start.map_or(cap, |s| s.max(cap));
        let retriever = AsyncRetriever::new(self.table.base_requester(), ReportJobs { create })
            .create_handlers(errors::analytics_rules())
            .records_at("*")
            .slots(self.job_slots.clone());
        self.table
            .custom(name, retriever)
            .router(router)
            .migrate_state(saved_cursors::raise("DATE", day(), start))
            .incremental(
                Incremental::new("DATE", day(), start, end_of_today(self.now))
                    .min_start(start)
                    .step(Duration::days(dates.window_days), Duration::days(1))
                    .per_partition(parent_state),
            )
    }
}

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
