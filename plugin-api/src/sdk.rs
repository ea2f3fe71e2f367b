//! The adapter author's side: typed provider traits, one error type, the
//! [`Adapter`] registration builder and the dispatch from wire method names to
//! trait methods.
//!
//! Every capability has two traits with the same methods: a synchronous one
//! (`IncidentProvider`) whose methods may block, and an asynchronous one
//! (`AsyncIncidentProvider`, implemented with [`macro@crate::async_trait`])
//! whose methods also receive the [`CallContext`]. Register a synchronous
//! provider with [`Adapter::incident`], an asynchronous one with
//! [`Adapter::incident_async`]. Every method defaults to the `unsupported`
//! error (HTTP 501), so implement only what the upstream system offers.
//!
//! The general contract of every method:
//! * a lookup by id (`get`, `members`, `get_plan`, …) of something that does
//!   not exist is [`Error::not_found`] (404), never an empty value;
//! * a query that matches nothing is an empty list (200), never `not_found`;
//! * invalid input the adapter detects is [`Error::bad_request`] (400);
//! * failures of the upstream system use [`Error::upstream_auth`],
//!   [`Error::unavailable`], [`Error::timeout`] or [`Error::upstream`];
//! * error messages reach API clients: never put secrets or raw upstream
//!   bodies in them.
//!
//! # Encoded answers
//!
//! The SDK decodes each call's payload, calls the typed method and encodes
//! its result as JSON. A provider that already holds the answer as JSON (a
//! cache of upstream answers, records encoded once when they change) can
//! skip both by implementing `encoded_answer` on its trait: it is asked
//! first, with the method and the JSON payload, and returns `Some` with the
//! result as a [`JsonText`] (or an error), or `None` to let the typed method
//! answer. The mock adapter (`sample-plugins/opsorch-mock/src/incident.rs`) answers
//! `incident.query` and `incident.list` this way.

use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::context::CallContext;
use crate::error::Error;
use crate::json_text::JsonText;
use crate::methods::{Capability, Method};
use crate::protocol::{
    CompleteStepPayload, IdPayload, Manifest, PlanIdPayload, ProviderEntry, RunIdPayload,
    SecretGetPayload, SecretPutPayload, TeamMembersPayload, TimelineAppendPayload, UpdatePayload,
};
use crate::runtime::{BoxFuture, FirstPolls, Guarded};
use crate::schema::*;

/// A provider's config: the JSON object from `OPSORCH_<CAP>_CONFIG` or the
/// provider-config API.
pub type Config = serde_json::Map<String, serde_json::Value>;

/// The result type of every provider method.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Runs a synchronous provider through the asynchronous dispatch: each
/// method calls the synchronous one inline, so the call is ready on its
/// first poll.
struct Blocking<P>(P);

macro_rules! provider_traits {
    ($(
        $(#[$cap_doc:meta])*
        $cap:ident: $sync:ident, $async_:ident, $reg:ident, $reg_async:ident {
            $(
                $(#[$m_doc:meta])*
                fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = $method:ident;
            )*
        }
    )*) => {
        $(
            $(#[$cap_doc])*
            ///
            /// The synchronous form: methods may block; the host runs them on
            /// a thread pool of their own.
            pub trait $sync: Send + Sync {
                $(
                    $(#[$m_doc])*
                    #[allow(unused_variables)]
                    fn $name(&self, $($arg: $ty),*) -> Result<$ret> {
                        Err(Error::unsupported(Method::$method))
                    }
                )*

                /// Answers a call with JSON the provider already holds
                /// (a cache of upstream answers, records encoded once when
                /// they change), skipping the payload decoding, the typed
                /// method and the result encoding. It is asked first, for
                /// each call of this capability's methods: return `None`
                /// (the default) to let the typed method answer, or `Some`
                /// with the JSON text of exactly what the typed method's
                /// result would encode to (or an error). [`JsonText`] is
                /// one JSON value by construction, so the host does not
                /// parse it again.
                #[allow(unused_variables)]
                fn encoded_answer(&self, method: Method, payload: &str) -> Option<Result<JsonText>> {
                    None
                }
            }

            $(#[$cap_doc])*
            ///
            /// The asynchronous form: methods receive the [`CallContext`] and
            /// run on the adapter's runtime (see [`crate::runtime`]); they
            /// must not block. Implement it with
            /// `#[opsorch_plugin_api::async_trait]`.
            #[async_trait]
            pub trait $async_: Send + Sync {
                $(
                    $(#[$m_doc])*
                    #[allow(unused_variables)]
                    async fn $name(&self, context: &CallContext, $($arg: $ty),*) -> Result<$ret> {
                        Err(Error::unsupported(Method::$method))
                    }
                )*

                /// Answers a call with JSON the provider already holds
                /// (a cache of upstream answers, records encoded once when
                /// they change), skipping the payload decoding, the typed
                /// method and the result encoding. It is asked first, for
                /// each call of this capability's methods: return `None`
                /// (the default) to let the typed method answer, or `Some`
                /// with the JSON text of exactly what the typed method's
                /// result would encode to (or an error). [`JsonText`] is
                /// one JSON value by construction, so the host does not
                /// parse it again.
                /// It runs where the call is polled and must not block.
                #[allow(unused_variables)]
                fn encoded_answer(&self, method: Method, payload: &str) -> Option<Result<JsonText>> {
                    None
                }
            }

            #[async_trait]
            impl<P: $sync> $async_ for Blocking<P> {
                $(
                    async fn $name(&self, _context: &CallContext, $($arg: $ty),*) -> Result<$ret> {
                        self.0.$name($($arg),*)
                    }
                )*

                fn encoded_answer(&self, method: Method, payload: &str) -> Option<Result<JsonText>> {
                    self.0.encoded_answer(method, payload)
                }
            }
        )*

        /// A constructed provider of one capability.
        enum AnyProvider {
            $($cap(Box<dyn $async_>),)*
        }

        impl AnyProvider {
            /// The provider's [`encoded_answer`](IncidentProvider::encoded_answer)
            /// to a call of one of its capability's methods.
            fn encoded_answer(&self, method: Method, payload: &str) -> Option<Result<JsonText>> {
                match self {
                    $(AnyProvider::$cap(p) => p.encoded_answer(method, payload),)*
                }
            }
        }

        impl Adapter {
            $(
                #[doc = concat!("Registers a synchronous `", stringify!($reg), "` provider named `name`, built from its config by `construct`.")]
                pub fn $reg<P, F>(self, name: &str, construct: F) -> Self
                where
                    P: $sync + 'static,
                    F: Fn(&Config) -> Result<P> + Send + Sync + 'static,
                {
                    self.register(
                        Capability::$cap,
                        name,
                        true,
                        Box::new(move |config| Ok(AnyProvider::$cap(Box::new(Blocking(construct(config)?))))),
                    )
                }

                #[doc = concat!("Registers an asynchronous `", stringify!($reg), "` provider named `name`, built from its config by `construct`.")]
                pub fn $reg_async<P, F>(self, name: &str, construct: F) -> Self
                where
                    P: $async_ + 'static,
                    F: Fn(&Config) -> Result<P> + Send + Sync + 'static,
                {
                    self.register(
                        Capability::$cap,
                        name,
                        false,
                        Box::new(move |config| Ok(AnyProvider::$cap(Box::new(construct(config)?)))),
                    )
                }
            )*
        }
    };
}

provider_traits! {
    /// Incidents and their timelines.
    Incident: IncidentProvider, AsyncIncidentProvider, incident, incident_async {
        /// `incident.query`: the incidents matching every non-empty field of
        /// `query` (`query` text, `statuses`, `severities`, `scope`), newest
        /// first, at most `limit` when it is positive. No match is an empty list.
        fn query(query: IncidentQuery) -> Vec<Incident> = IncidentQuery;
        /// `incident.list`: every incident the provider can see (the Go
        /// protocol's unfiltered listing).
        fn list() -> Vec<Incident> = IncidentList;
        /// `incident.get`: the incident `id`; `not_found` when there is none.
        fn get(id: &str) -> Incident = IncidentGet;
        /// `incident.create`: creates an incident and returns it with its new
        /// id. A missing title or status the upstream requires is `bad_request`.
        fn create(input: CreateIncidentInput) -> Incident = IncidentCreate;
        /// `incident.update`: applies the fields set in `input` to incident
        /// `id` and returns the result; `not_found` for an unknown id.
        fn update(id: &str, input: UpdateIncidentInput) -> Incident = IncidentUpdate;
        /// `incident.timeline.get`: the timeline of incident `id`, oldest
        /// first; `not_found` for an unknown incident, an empty list for one
        /// without entries.
        fn timeline(id: &str) -> Vec<TimelineEntry> = IncidentTimelineGet;
        /// `incident.timeline.append`: appends `entry` to incident `id`'s
        /// timeline; `not_found` for an unknown incident.
        fn append_timeline(id: &str, entry: TimelineAppendInput) -> () = IncidentTimelineAppend;
    }

    /// Alerts (read-only).
    Alert: AlertProvider, AsyncAlertProvider, alert, alert_async {
        /// `alert.query`: the alerts matching every non-empty field of
        /// `query`, newest first, at most `limit` when positive. No match is
        /// an empty list.
        fn query(query: AlertQuery) -> Vec<Alert> = AlertQuery;
        /// `alert.get`: the alert `id`; `not_found` when there is none.
        fn get(id: &str) -> Alert = AlertGet;
    }

    /// Log search.
    Log: LogProvider, AsyncLogProvider, log, log_async {
        /// `log.query`: the entries between `start` and `end` matching the
        /// `expression` (search text, severities, filters) and `scope`, at
        /// most `limit` when positive. An expression the backend cannot
        /// express is `bad_request`.
        fn query(query: LogQuery) -> LogEntries = LogQuery;
    }

    /// Metric series and the metric catalogue.
    Metric: MetricProvider, AsyncMetricProvider, metric, metric_async {
        /// `metric.query`: the series of `expression` between `start` and
        /// `end` at `step` seconds. An unknown metric is an empty list.
        fn query(query: MetricQuery) -> Vec<MetricSeries> = MetricQuery;
        /// `metric.describe`: the metrics available within `scope` (all of
        /// them for an empty scope).
        fn describe(scope: QueryScope) -> Vec<MetricDescriptor> = MetricDescribe;
    }

    /// Tickets.
    Ticket: TicketProvider, AsyncTicketProvider, ticket, ticket_async {
        /// `ticket.query`: the tickets matching every non-empty field of
        /// `query`. No match is an empty list.
        fn query(query: TicketQuery) -> Vec<Ticket> = TicketQuery;
        /// `ticket.get`: the ticket `id`; `not_found` when there is none.
        fn get(id: &str) -> Ticket = TicketGet;
        /// `ticket.create`: creates a ticket and returns it with its new id.
        fn create(input: CreateTicketInput) -> Ticket = TicketCreate;
        /// `ticket.update`: applies the fields set in `input` to ticket `id`;
        /// `not_found` for an unknown id.
        fn update(id: &str, input: UpdateTicketInput) -> Ticket = TicketUpdate;
    }

    /// Chat messages.
    Messaging: MessagingProvider, AsyncMessagingProvider, messaging, messaging_async {
        /// `messaging.send`: posts `message` to its `channel`. The result's
        /// `id` is the upstream system's id of the posted message (for
        /// example a Slack `ts`), stable enough to find the message again;
        /// `channel` is where it went and `sentAt` when. An unknown channel
        /// is `not_found`.
        fn send(message: Message) -> MessageResult = MessagingSend;
    }

    /// The service catalogue.
    Service: ServiceProvider, AsyncServiceProvider, service, service_async {
        /// `service.query`: the services matching every non-empty field of
        /// `query` (`ids`, `name` as a case-insensitive substring, `tags`,
        /// `scope`), at most `limit` when positive. No match is an empty list.
        fn query(query: ServiceQuery) -> Vec<Service> = ServiceQuery;
    }

    /// Deployments.
    Deployment: DeploymentProvider, AsyncDeploymentProvider, deployment, deployment_async {
        /// `deployment.query`: the deployments matching every non-empty field
        /// of `query`, newest first. No match is an empty list.
        fn query(query: DeploymentQuery) -> Vec<Deployment> = DeploymentQuery;
        /// `deployment.get`: the deployment `id`; `not_found` when there is none.
        fn get(id: &str) -> Deployment = DeploymentGet;
    }

    /// Teams and their members.
    Team: TeamProvider, AsyncTeamProvider, team, team_async {
        /// `team.query`: the teams matching every non-empty field of `query`
        /// (`name` as a case-insensitive substring of the name or id, `tags`,
        /// `scope`). No match is an empty list.
        fn query(query: TeamQuery) -> Vec<Team> = TeamQuery;
        /// `team.get`: the team `id`; `not_found` when there is none.
        fn get(id: &str) -> Team = TeamGet;
        /// `team.members` (payload field `teamID`): the members of team
        /// `team_id`. An unknown team is `not_found`; a known team without
        /// members is an empty list.
        fn members(team_id: &str) -> Vec<TeamMember> = TeamMembers;
    }

    /// Runbook plans and their runs.
    Orchestration: OrchestrationProvider, AsyncOrchestrationProvider, orchestration, orchestration_async {
        /// `orchestration.plans.query`: the plans matching `query`. No match
        /// is an empty list.
        fn query_plans(query: OrchestrationPlanQuery) -> Vec<OrchestrationPlan> = OrchestrationPlansQuery;
        /// `orchestration.plans.get` (payload field `planId`): the plan
        /// `plan_id`; `not_found` when there is none.
        fn get_plan(plan_id: &str) -> OrchestrationPlan = OrchestrationPlansGet;
        /// `orchestration.runs.query`: the runs matching `query`, newest
        /// first. No match is an empty list.
        fn query_runs(query: OrchestrationRunQuery) -> Vec<OrchestrationRun> = OrchestrationRunsQuery;
        /// `orchestration.runs.get` (payload field `runId`): the run
        /// `run_id`; `not_found` when there is none.
        fn get_run(run_id: &str) -> OrchestrationRun = OrchestrationRunsGet;
        /// `orchestration.runs.start` (payload field `planId`): starts a run
        /// of plan `plan_id` and returns it; `not_found` for an unknown plan.
        fn start_run(plan_id: &str) -> OrchestrationRun = OrchestrationRunsStart;
        /// `orchestration.runs.steps.complete` (payload fields `runId`,
        /// `stepId`, `actor`, `note`): marks a manual step done.
        /// `not_found` for an unknown run or step; `bad_request` for a step
        /// that cannot be completed in its current state.
        fn complete_step(run_id: &str, step_id: &str, actor: &str, note: &str) -> () = OrchestrationRunsStepsComplete;
    }

    /// A key-value secret store (the host keeps provider configs in it).
    Secret: SecretProvider, AsyncSecretProvider, secret, secret_async {
        /// `secret.get`: the value stored under `key`; `not_found` when
        /// there is none.
        fn get(key: &str) -> String = SecretGet;
        /// `secret.put`: stores `value` under `key`, replacing any value.
        fn put(key: &str, value: &str) -> () = SecretPut;
    }
}

type Constructor = Box<dyn Fn(&Config) -> Result<AnyProvider> + Send + Sync>;

struct Registration {
    capability: Capability,
    name: String,
    blocking: bool,
    construct: Constructor,
}

/// An adapter: a name, a version and the providers it registers.
///
/// The same value is exported from a library with [`crate::export_adapter!`]
/// and served over stdio with [`crate::serve_stdio`].
pub struct Adapter {
    name: String,
    version: String,
    registrations: Vec<Registration>,
    /// Whether the synchronous providers' calls return at once
    /// ([`Adapter::non_blocking`]).
    non_blocking: bool,
}

impl Adapter {
    /// An adapter with no providers yet. `name` tags its log lines in the host.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Adapter {
            name: name.into(),
            version: version.into(),
            registrations: Vec::new(),
            non_blocking: false,
        }
    }

    /// Declares that this adapter's synchronous providers never block:
    /// every method returns at once (in-memory data, a cache), never
    /// waiting on I/O, a sleep or a lock held for long.
    ///
    /// The host then calls them in the request's own task, like an
    /// asynchronous call that is ready on its first poll, instead of
    /// handing each call to a thread of its call pool and back; the
    /// adapter runtime is not started for them and no deadline is armed.
    /// A method that does block would stall one of the host's few async
    /// workers, and every request it serves with it: leave this off for
    /// anything that waits. Asynchronous providers are not affected.
    pub fn non_blocking(mut self) -> Self {
        self.non_blocking = true;
        self
    }

    fn register(
        mut self,
        capability: Capability,
        name: &str,
        blocking: bool,
        construct: Constructor,
    ) -> Self {
        self.registrations.push(Registration {
            capability,
            name: name.to_string(),
            blocking,
            construct,
        });
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// What this adapter offers, as the host sees it.
    pub fn manifest(&self) -> Manifest {
        Manifest {
            name: self.name.clone(),
            version: self.version.clone(),
            interface_version: crate::ffi::INTERFACE_VERSION.to_string(),
            providers: self
                .registrations
                .iter()
                .map(|r| ProviderEntry {
                    capability: r.capability.name().to_string(),
                    name: r.name.clone(),
                })
                .collect(),
            config_check: None,
            // Every result goes through `dispatch`: serde-encoded, or a
            // `JsonText` from `encoded_answer`.
            results_checked: true,
        }
    }

    /// Builds the provider registered as (`capability`, `name`); the name is
    /// matched case-insensitively. An empty name picks the first provider of
    /// the capability (stdio plugins are not told a name).
    pub fn construct(
        &self,
        capability: Capability,
        name: &str,
        config: &Config,
    ) -> Result<ProviderInstance> {
        let registration = self
            .registrations
            .iter()
            .find(|r| {
                r.capability == capability && (name.is_empty() || r.name.eq_ignore_ascii_case(name))
            })
            .ok_or_else(|| {
                let known: Vec<&str> = self
                    .registrations
                    .iter()
                    .filter(|r| r.capability == capability)
                    .map(|r| r.name.as_str())
                    .collect();
                if known.is_empty() {
                    let serves: Vec<String> = self
                        .registrations
                        .iter()
                        .map(|r| format!("{} `{}`", r.capability, r.name))
                        .collect();
                    Error::bad_request(format!(
                        "adapter {} does not serve the {capability} capability (it serves {})",
                        self.name,
                        if serves.is_empty() {
                            "nothing".to_string()
                        } else {
                            serves.join(", ")
                        }
                    ))
                } else {
                    Error::bad_request(format!(
                        "adapter {} has no {capability} provider named {name:?} (it has {})",
                        self.name,
                        known.join(", ")
                    ))
                }
            })?;
        let mode = match (registration.blocking, self.non_blocking) {
            (false, _) => Mode::Async,
            (true, false) => Mode::Blocking,
            (true, true) => Mode::Inline,
        };
        Ok(ProviderInstance {
            capability,
            mode,
            provider: Arc::new((registration.construct)(config)?),
            first_polls: Arc::new(FirstPolls::new(Method::ALL.len())),
        })
    }
}

/// A constructed provider, callable by wire method name with JSON payloads.
/// This is what both transports drive; adapter tests can use it directly.
#[derive(Clone)]
pub struct ProviderInstance {
    capability: Capability,
    mode: Mode,
    provider: Arc<AnyProvider>,
    /// What its asynchronous calls did on their first poll, per method.
    first_polls: Arc<FirstPolls>,
}

/// How a provider's calls run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Synchronous, may block: the caller gives each call a thread.
    Blocking,
    /// Synchronous and never blocking ([`Adapter::non_blocking`]): run
    /// where the caller polls, ready on the first poll.
    Inline,
    /// Asynchronous: on the adapter runtime, with the call's deadline.
    Async,
}

/// Decodes a method's JSON payload as the typed dispatch does: a payload
/// that does not decode is `bad_request` ("invalid payload: …"). For
/// `encoded_answer` implementations.
pub fn decode_payload<T: DeserializeOwned>(payload: &str) -> Result<T> {
    serde_json::from_str(payload).map_err(|e| Error::bad_request(format!("invalid payload: {e}")))
}

fn encode<T: Serialize>(value: Result<T>) -> Result<String> {
    // Most results are a few KiB: start there rather than grow from 128 B.
    let mut out = Vec::with_capacity(4096);
    serde_json::to_writer(&mut out, &value?)
        .map_err(|e| Error::internal(format!("encoding result: {e}")))?;
    String::from_utf8(out).map_err(|e| Error::internal(format!("encoding result: {e}")))
}

impl ProviderInstance {
    pub fn capability(&self) -> Capability {
        self.capability
    }

    /// Whether the provider was registered synchronously by an adapter
    /// not declared [`Adapter::non_blocking`]: its calls may block the
    /// calling thread.
    pub fn is_blocking(&self) -> bool {
        self.mode == Mode::Blocking
    }

    /// Whether the provider was registered synchronously (blocking or
    /// not): its calls run on no runtime and finish on their first poll.
    pub fn is_synchronous(&self) -> bool {
        self.mode != Mode::Async
    }

    /// Calls a method by wire name (`incident.get`) with a JSON payload and
    /// returns the JSON result, blocking the current thread until it is
    /// done. Asynchronous providers run on the adapter runtime meanwhile.
    pub fn call(&self, method: &str, payload: &str) -> Result<String> {
        let method = Method::from_name(method)
            .ok_or_else(|| Error::bad_request(format!("unknown method {method:?}")))?;
        self.call_method(method, payload)
    }

    /// Calls a method with a JSON payload, blocking until it is done.
    pub fn call_method(&self, method: Method, payload: &str) -> Result<String> {
        crate::runtime::block_on(self.call_async(CallContext::new(), method, payload.to_string()))
    }

    /// Calls a method with a JSON payload. The future owns everything it
    /// needs; dropping it cancels the call. It may be polled on any thread
    /// and executor: panics become `adapter_panic`, and for asynchronous
    /// providers the adapter runtime is entered around each poll and the
    /// context's deadline is applied (`timeout` when it passes).
    pub fn call_async(
        &self,
        context: CallContext,
        method: Method,
        payload: String,
    ) -> impl std::future::Future<Output = Result<String>> + Send + 'static {
        self.start(context, method, payload)
    }

    /// [`ProviderInstance::call_async`] with the payload in any owned text:
    /// the library entry point passes the host's `RString` as it is rather
    /// than copying it into a `String`.
    pub(crate) fn start<P>(
        &self,
        context: CallContext,
        method: Method,
        payload: P,
    ) -> impl std::future::Future<Output = Result<String>> + Send + 'static
    where
        P: AsRef<str> + Send + 'static,
    {
        let provider = self.provider.clone();
        let capability = self.capability;
        if self.is_synchronous() {
            let call: BoxFuture = Box::pin(async move {
                dispatch(&provider, capability, &context, method, payload.as_ref()).await
            });
            Guarded::blocking(method.name(), call)
        } else {
            let deadline_context = context.clone();
            let call: BoxFuture = Box::pin(async move {
                dispatch(&provider, capability, &context, method, payload.as_ref()).await
            });
            let history = (self.first_polls.clone(), method as usize);
            Guarded::on_runtime(method.name(), &deadline_context, history, call)
        }
    }
}

macro_rules! provider_of {
    ($provider:ident, $capability:ident, $method:ident, $variant:ident) => {
        match $provider {
            AnyProvider::$variant(p) => p,
            _ => return Err(wrong_capability($capability, Method::$method)),
        }
    };
}

fn wrong_capability(capability: Capability, method: Method) -> Error {
    Error::bad_request(format!(
        "{method} is not a method of the {capability} capability"
    ))
}

/// Decodes the payload of `method`, calls the provider and encodes the result.
async fn dispatch(
    provider: &AnyProvider,
    capability: Capability,
    cx: &CallContext,
    method: Method,
    payload: &str,
) -> Result<String> {
    use Method as M;
    if method.capability() == capability {
        if let Some(answer) = provider.encoded_answer(method, payload) {
            return answer.map(JsonText::into_string);
        }
    }
    let p = provider;
    let c = capability;
    match method {
        M::IncidentQuery => encode(
            provider_of!(p, c, IncidentQuery, Incident)
                .query(cx, decode_payload(payload)?)
                .await,
        ),
        M::IncidentList => encode(provider_of!(p, c, IncidentList, Incident).list(cx).await),
        M::IncidentGet => {
            let id: IdPayload = decode_payload(payload)?;
            encode(
                provider_of!(p, c, IncidentGet, Incident)
                    .get(cx, &id.id)
                    .await,
            )
        }
        M::IncidentCreate => encode(
            provider_of!(p, c, IncidentCreate, Incident)
                .create(cx, decode_payload(payload)?)
                .await,
        ),
        M::IncidentUpdate => {
            let u: UpdatePayload<UpdateIncidentInput> = decode_payload(payload)?;
            encode(
                provider_of!(p, c, IncidentUpdate, Incident)
                    .update(cx, &u.id, u.input)
                    .await,
            )
        }
        M::IncidentTimelineGet => {
            let id: IdPayload = decode_payload(payload)?;
            encode(
                provider_of!(p, c, IncidentTimelineGet, Incident)
                    .timeline(cx, &id.id)
                    .await,
            )
        }
        M::IncidentTimelineAppend => {
            let t: TimelineAppendPayload<TimelineAppendInput> = decode_payload(payload)?;
            encode(
                provider_of!(p, c, IncidentTimelineAppend, Incident)
                    .append_timeline(cx, &t.id, t.entry)
                    .await,
            )
        }
        M::AlertQuery => encode(
            provider_of!(p, c, AlertQuery, Alert)
                .query(cx, decode_payload(payload)?)
                .await,
        ),
        M::AlertGet => {
            let id: IdPayload = decode_payload(payload)?;
            encode(provider_of!(p, c, AlertGet, Alert).get(cx, &id.id).await)
        }
        M::LogQuery => encode(
            provider_of!(p, c, LogQuery, Log)
                .query(cx, decode_payload(payload)?)
                .await,
        ),
        M::MetricQuery => encode(
            provider_of!(p, c, MetricQuery, Metric)
                .query(cx, decode_payload(payload)?)
                .await,
        ),
        M::MetricDescribe => encode(
            provider_of!(p, c, MetricDescribe, Metric)
                .describe(cx, decode_payload(payload)?)
                .await,
        ),
        M::TicketQuery => encode(
            provider_of!(p, c, TicketQuery, Ticket)
                .query(cx, decode_payload(payload)?)
                .await,
        ),
        M::TicketGet => {
            let id: IdPayload = decode_payload(payload)?;
            encode(provider_of!(p, c, TicketGet, Ticket).get(cx, &id.id).await)
        }
        M::TicketCreate => encode(
            provider_of!(p, c, TicketCreate, Ticket)
                .create(cx, decode_payload(payload)?)
                .await,
        ),
        M::TicketUpdate => {
            let u: UpdatePayload<UpdateTicketInput> = decode_payload(payload)?;
            encode(
                provider_of!(p, c, TicketUpdate, Ticket)
                    .update(cx, &u.id, u.input)
                    .await,
            )
        }
        M::MessagingSend => encode(
            provider_of!(p, c, MessagingSend, Messaging)
                .send(cx, decode_payload(payload)?)
                .await,
        ),
        M::ServiceQuery => encode(
            provider_of!(p, c, ServiceQuery, Service)
                .query(cx, decode_payload(payload)?)
                .await,
        ),
        M::DeploymentQuery => encode(
            provider_of!(p, c, DeploymentQuery, Deployment)
                .query(cx, decode_payload(payload)?)
                .await,
        ),
        M::DeploymentGet => {
            let id: IdPayload = decode_payload(payload)?;
            encode(
                provider_of!(p, c, DeploymentGet, Deployment)
                    .get(cx, &id.id)
                    .await,
            )
        }
        M::TeamQuery => encode(
            provider_of!(p, c, TeamQuery, Team)
                .query(cx, decode_payload(payload)?)
                .await,
        ),
        M::TeamGet => {
            let id: IdPayload = decode_payload(payload)?;
            encode(provider_of!(p, c, TeamGet, Team).get(cx, &id.id).await)
        }
        M::TeamMembers => {
            let t: TeamMembersPayload = decode_payload(payload)?;
            encode(
                provider_of!(p, c, TeamMembers, Team)
                    .members(cx, &t.team_id)
                    .await,
            )
        }
        M::OrchestrationPlansQuery => encode(
            provider_of!(p, c, OrchestrationPlansQuery, Orchestration)
                .query_plans(cx, decode_payload(payload)?)
                .await,
        ),
        M::OrchestrationPlansGet => {
            let q: PlanIdPayload = decode_payload(payload)?;
            encode(
                provider_of!(p, c, OrchestrationPlansGet, Orchestration)
                    .get_plan(cx, &q.plan_id)
                    .await,
            )
        }
        M::OrchestrationRunsQuery => encode(
            provider_of!(p, c, OrchestrationRunsQuery, Orchestration)
                .query_runs(cx, decode_payload(payload)?)
                .await,
        ),
        M::OrchestrationRunsGet => {
            let q: RunIdPayload = decode_payload(payload)?;
            encode(
                provider_of!(p, c, OrchestrationRunsGet, Orchestration)
                    .get_run(cx, &q.run_id)
                    .await,
            )
        }
        M::OrchestrationRunsStart => {
            let q: PlanIdPayload = decode_payload(payload)?;
            encode(
                provider_of!(p, c, OrchestrationRunsStart, Orchestration)
                    .start_run(cx, &q.plan_id)
                    .await,
            )
        }
        M::OrchestrationRunsStepsComplete => {
            let q: CompleteStepPayload = decode_payload(payload)?;
            encode(
                provider_of!(p, c, OrchestrationRunsStepsComplete, Orchestration)
                    .complete_step(cx, &q.run_id, &q.step_id, &q.actor, &q.note)
                    .await,
            )
        }
        M::SecretGet => {
            let q: SecretGetPayload = decode_payload(payload)?;
            encode(provider_of!(p, c, SecretGet, Secret).get(cx, &q.key).await)
        }
        M::SecretPut => {
            let q: SecretPutPayload = decode_payload(payload)?;
            encode(
                provider_of!(p, c, SecretPut, Secret)
                    .put(cx, &q.key, &q.value)
                    .await,
            )
        }
    }
}
