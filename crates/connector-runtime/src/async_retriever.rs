//! The CDK's async retriever: records that an API prepares as a job, not as pages.
//!
//! Per slice the retriever creates a job, polls its status until it completes, fetches the
//! download target (some APIs hand out a pre-signed URL that expires, so it is asked for right
//! before the download), downloads the file without auth headers and selects its records. A
//! job that fails, expires, times out or cannot be created is created again, up to
//! [`JobLimits::max_attempts`] per slice; then the slice fails. How many jobs run at once is
//! bounded by [`JobSlots`], which every stream of an API shares.
//!
//! The mechanism lives here once; an API supplies only its rules through [`AsyncJobApi`]: the
//! creation request, where the job id is, the polling request, what its status names mean,
//! and where the download URL is.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::context::StreamContext;
use crate::error::{Error, Result};
use crate::http::{HandlerChain, HttpRequest, Outcome, Requester};
use crate::stream::{RecordSelector, Retriever, Slice};
use airbyte_protocol::FailureType;

/// What a status answer says about a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    /// Still being prepared: poll again.
    Running,
    /// Ready for download.
    Completed,
    /// Failed, expired, cancelled or lost: create the job again (the reason is logged).
    Failed(String),
}

/// The API-specific rules of an async job.
pub trait AsyncJobApi: Send + Sync {
    /// The request that creates the job of `slice`. Built once per slice, before any job
    /// starts: an error here (a config the API cannot serve) fails the slice with no request.
    fn create(&self, slice: &Slice) -> Result<HttpRequest>;

    /// The job id in the creation answer; `None` when the answer did not create a job (the
    /// job is created again).
    fn job_id(&self, created: &Value) -> Option<String>;

    /// The request that asks for the status of job `job`.
    fn poll(&self, slice: &Slice, job: &str) -> Result<HttpRequest>;

    /// The meaning of a status answer. An error (a status the API never documented) fails the
    /// slice at once rather than polling forever.
    fn status(&self, polled: &Value) -> Result<JobStatus>;

    /// A request made after completion whose answer holds the download URL (the CDK's
    /// download target requester), for APIs whose URL may have expired by then. `None`: the
    /// completing status answer holds it.
    fn download_target(&self, _slice: &Slice, _job: &str) -> Result<Option<HttpRequest>> {
        Ok(None)
    }

    /// The download URL in the completing status answer (or the download target's answer).
    fn download_url(&self, answer: &Value) -> Option<String>;
}

/// Bounds of one slice's jobs; every wait is scaled by the run's time scale.
#[derive(Debug, Clone)]
pub struct JobLimits {
    pub poll_interval: Duration,
    /// A job still running after this much polling is abandoned and created again.
    pub timeout: Duration,
    /// Jobs created per slice before the slice fails.
    pub max_attempts: u32,
}

impl Default for JobLimits {
    fn default() -> Self {
        JobLimits {
            poll_interval: Duration::from_secs(5),
            timeout: Duration::from_secs(60 * 60),
            max_attempts: 3,
        }
    }
}

/// How many jobs may be in flight at once; clone it into every retriever that shares the
/// API's limit.
#[derive(Clone)]
pub struct JobSlots(Arc<Semaphore>);

impl JobSlots {
    pub fn new(jobs: usize) -> Self {
        JobSlots(Arc::new(Semaphore::new(jobs.max(1))))
    }
}

/// How one job attempt ended.
enum JobEnd {
    Downloaded(Value),
    Again(String),
}

/// The async retriever: create, poll, download, select.
#[derive(Clone)]
pub struct AsyncRetriever {
    pub requester: Requester,
    pub api: Arc<dyn AsyncJobApi>,
    /// Rules for the creation answer in front of the default mapping (the requester's own
    /// handlers apply to status requests).
    pub create_handlers: HandlerChain,
    pub selector: RecordSelector,
    pub limits: JobLimits,
    pub slots: JobSlots,
}

impl AsyncRetriever {
    /// A retriever with the default limits, one job at a time, the whole file as records.
    pub fn new(requester: &Requester, api: impl AsyncJobApi + 'static) -> Self {
        AsyncRetriever {
            requester: requester.clone(),
            api: Arc::new(api),
            create_handlers: requester.handlers().clone(),
            selector: RecordSelector::Path(Vec::new()),
            limits: JobLimits::default(),
            slots: JobSlots::new(1),
        }
    }

    /// Classifies creation answers with `h` (then the default mapping) instead of the
    /// requester's handlers.
    pub fn create_handlers(mut self, h: HandlerChain) -> Self {
        self.create_handlers = h;
        self
    }

    pub fn records_at(mut self, path: &str) -> Self {
        self.selector = RecordSelector::path(path);
        self
    }

    pub fn limits(mut self, limits: JobLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Shares a job limit with other retrievers.
    pub fn slots(mut self, slots: JobSlots) -> Self {
        self.slots = slots;
        self
    }

    async fn send(&self, req: &HttpRequest) -> Result<Option<Value>> {
        match self.requester.send(req).await? {
            Outcome::Success(r) => Ok(Some(r.body)),
            Outcome::Ignored { .. } => Ok(None),
        }
    }

    /// One attempt: create, poll until done, fetch the download target, download.
    async fn attempt(&self, slice: &Slice, create: &HttpRequest) -> Result<JobEnd> {
        let created = match self
            .requester
            .send_with(create, &self.create_handlers)
            .await
        {
            Ok(Outcome::Success(r)) => r.body,
            Ok(Outcome::Ignored { message }) => {
                return Ok(JobEnd::Again(format!("job creation ignored: {message}")))
            }
            Err(e) if e.failure_type() == FailureType::ConfigError => return Err(e),
            Err(e) => {
                return Ok(JobEnd::Again(format!(
                    "job creation failed: {}",
                    e.message()
                )))
            }
        };
        let Some(job) = self.api.job_id(&created) else {
            return Ok(JobEnd::Again(format!(
                "job creation answered without a job id: {}",
                crate::http::short(&created.to_string())
            )));
        };
        let env = self.requester.env().clone();
        let started = Instant::now();
        // Polling time counts unscaled, so that a test shrinking the sleeps still sees every
        // poll a real run would make before giving up.
        let mut waited = Duration::ZERO;
        let completed = loop {
            if waited >= self.limits.timeout || started.elapsed() >= self.limits.timeout {
                return Ok(JobEnd::Again(format!(
                    "job timed out after {} minutes",
                    self.limits.timeout.as_secs() / 60
                )));
            }
            tokio::time::sleep(env.scaled(self.limits.poll_interval)).await;
            waited += self.limits.poll_interval;
            let Some(polled) = self.send(&self.api.poll(slice, &job)?).await? else {
                return Ok(JobEnd::Again("job status answer was ignored".into()));
            };
            match self.api.status(&polled)? {
                JobStatus::Completed => break polled,
                JobStatus::Running => continue,
                JobStatus::Failed(reason) => return Ok(JobEnd::Again(reason)),
            }
        };
        let target = match self.api.download_target(slice, &job)? {
            Some(req) => self.send(&req).await?.unwrap_or(Value::Null),
            None => completed,
        };
        let Some(url) = self.api.download_url(&target).filter(|u| !u.is_empty()) else {
            return Ok(JobEnd::Again(
                "the completed job has no download url".into(),
            ));
        };
        // A pre-signed URL carries its own credentials; the API's must not travel with it.
        let download = HttpRequest::get(url).without_auth();
        match self
            .requester
            .send_with(&download, &HandlerChain::new())
            .await?
        {
            Outcome::Success(r) => Ok(JobEnd::Downloaded(r.body)),
            Outcome::Ignored { message } => Ok(JobEnd::Again(message)),
        }
    }

    /// Runs the job of one slice to its downloaded file, creating failed jobs again.
    pub async fn run(&self, slice: &Slice) -> Result<Value> {
        let create = self.api.create(slice)?;
        let _slot = self
            .slots
            .0
            .acquire()
            .await
            .map_err(|_| Error::system("the job slots were closed"))?;
        let mut last = String::new();
        for attempt in 1..=self.limits.max_attempts {
            match self.attempt(slice, &create).await? {
                JobEnd::Downloaded(file) => return Ok(file),
                JobEnd::Again(reason) => {
                    tracing::warn!(
                        "Async job for {} (attempt {attempt}/{}): {reason}",
                        create.url,
                        self.limits.max_attempts
                    );
                    last = reason;
                }
            }
        }
        Err(
            Error::transient("One or more async jobs failed after exhausting all retry attempts.")
                .with_internal(last),
        )
    }
}

impl Retriever for AsyncRetriever {
    fn read<'a>(
        &'a self,
        _ctx: &'a StreamContext,
        slice: &'a Slice,
    ) -> BoxStream<'a, Result<Value>> {
        Box::pin(async_stream::try_stream! {
            let file = self.run(slice).await?;
            for record in self.selector.select(file)? {
                yield record;
            }
        })
    }

    fn first_request(&self, slice: &Slice) -> Option<Result<HttpRequest>> {
        Some(self.api.create(slice))
    }
}
