//! The adapter author's side: typed provider traits, one error type, the
//! [`Adapter`] registration builder and the dispatch from wire method names to
//! trait methods.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Error;
use crate::methods::{Capability, Method};
use crate::protocol::{
    CompleteStepPayload, IdPayload, Manifest, PlanIdPayload, ProviderEntry, RunIdPayload,
    SecretGetPayload, SecretPutPayload, TeamMembersPayload, TimelineAppendPayload, UpdatePayload,
};
use opsorch_schema::*;

/// A provider's config: the JSON object from `OPSORCH_<CAP>_CONFIG` or the
/// provider-config API.
pub type Config = serde_json::Map<String, serde_json::Value>;

/// The result type of every provider method.
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! unsupported {
    ($method:ident) => {
        Err(Error::unsupported(Method::$method))
    };
}

/// Incidents and their timelines.
pub trait IncidentProvider: Send + Sync {
    fn query(&self, _query: IncidentQuery) -> Result<Vec<Incident>> {
        unsupported!(IncidentQuery)
    }
    fn list(&self) -> Result<Vec<Incident>> {
        unsupported!(IncidentList)
    }
    fn get(&self, _id: &str) -> Result<Incident> {
        unsupported!(IncidentGet)
    }
    fn create(&self, _input: CreateIncidentInput) -> Result<Incident> {
        unsupported!(IncidentCreate)
    }
    fn update(&self, _id: &str, _input: UpdateIncidentInput) -> Result<Incident> {
        unsupported!(IncidentUpdate)
    }
    fn timeline(&self, _id: &str) -> Result<Vec<TimelineEntry>> {
        unsupported!(IncidentTimelineGet)
    }
    fn append_timeline(&self, _id: &str, _entry: TimelineAppendInput) -> Result<()> {
        unsupported!(IncidentTimelineAppend)
    }
}

/// Alerts (read-only).
pub trait AlertProvider: Send + Sync {
    fn query(&self, _query: AlertQuery) -> Result<Vec<Alert>> {
        unsupported!(AlertQuery)
    }
    fn get(&self, _id: &str) -> Result<Alert> {
        unsupported!(AlertGet)
    }
}

/// Log search.
pub trait LogProvider: Send + Sync {
    fn query(&self, _query: LogQuery) -> Result<LogEntries> {
        unsupported!(LogQuery)
    }
}

/// Metric series and the metric catalogue.
pub trait MetricProvider: Send + Sync {
    fn query(&self, _query: MetricQuery) -> Result<Vec<MetricSeries>> {
        unsupported!(MetricQuery)
    }
    fn describe(&self, _scope: QueryScope) -> Result<Vec<MetricDescriptor>> {
        unsupported!(MetricDescribe)
    }
}

/// Tickets.
pub trait TicketProvider: Send + Sync {
    fn query(&self, _query: TicketQuery) -> Result<Vec<Ticket>> {
        unsupported!(TicketQuery)
    }
    fn get(&self, _id: &str) -> Result<Ticket> {
        unsupported!(TicketGet)
    }
    fn create(&self, _input: CreateTicketInput) -> Result<Ticket> {
        unsupported!(TicketCreate)
    }
    fn update(&self, _id: &str, _input: UpdateTicketInput) -> Result<Ticket> {
        unsupported!(TicketUpdate)
    }
}

/// Chat messages.
pub trait MessagingProvider: Send + Sync {
    fn send(&self, _message: Message) -> Result<MessageResult> {
        unsupported!(MessagingSend)
    }
}

/// The service catalogue.
pub trait ServiceProvider: Send + Sync {
    fn query(&self, _query: ServiceQuery) -> Result<Vec<Service>> {
        unsupported!(ServiceQuery)
    }
}

/// Deployments.
pub trait DeploymentProvider: Send + Sync {
    fn query(&self, _query: DeploymentQuery) -> Result<Vec<Deployment>> {
        unsupported!(DeploymentQuery)
    }
    fn get(&self, _id: &str) -> Result<Deployment> {
        unsupported!(DeploymentGet)
    }
}

/// Teams and their members.
pub trait TeamProvider: Send + Sync {
    fn query(&self, _query: TeamQuery) -> Result<Vec<Team>> {
        unsupported!(TeamQuery)
    }
    fn get(&self, _id: &str) -> Result<Team> {
        unsupported!(TeamGet)
    }
    fn members(&self, _team_id: &str) -> Result<Vec<TeamMember>> {
        unsupported!(TeamMembers)
    }
}

/// Runbook plans and their runs.
pub trait OrchestrationProvider: Send + Sync {
    fn query_plans(&self, _query: OrchestrationPlanQuery) -> Result<Vec<OrchestrationPlan>> {
        unsupported!(OrchestrationPlansQuery)
    }
    fn get_plan(&self, _plan_id: &str) -> Result<OrchestrationPlan> {
        unsupported!(OrchestrationPlansGet)
    }
    fn query_runs(&self, _query: OrchestrationRunQuery) -> Result<Vec<OrchestrationRun>> {
        unsupported!(OrchestrationRunsQuery)
    }
    fn get_run(&self, _run_id: &str) -> Result<OrchestrationRun> {
        unsupported!(OrchestrationRunsGet)
    }
    fn start_run(&self, _plan_id: &str) -> Result<OrchestrationRun> {
        unsupported!(OrchestrationRunsStart)
    }
    fn complete_step(
        &self,
        _run_id: &str,
        _step_id: &str,
        _actor: &str,
        _note: &str,
    ) -> Result<()> {
        unsupported!(OrchestrationRunsStepsComplete)
    }
}

/// A key-value secret store (the host keeps provider configs in it).
pub trait SecretProvider: Send + Sync {
    fn get(&self, _key: &str) -> Result<String> {
        unsupported!(SecretGet)
    }
    fn put(&self, _key: &str, _value: &str) -> Result<()> {
        unsupported!(SecretPut)
    }
}

/// A constructed provider of one capability.
enum AnyProvider {
    Incident(Box<dyn IncidentProvider>),
    Alert(Box<dyn AlertProvider>),
    Log(Box<dyn LogProvider>),
    Metric(Box<dyn MetricProvider>),
    Ticket(Box<dyn TicketProvider>),
    Messaging(Box<dyn MessagingProvider>),
    Service(Box<dyn ServiceProvider>),
    Deployment(Box<dyn DeploymentProvider>),
    Team(Box<dyn TeamProvider>),
    Orchestration(Box<dyn OrchestrationProvider>),
    Secret(Box<dyn SecretProvider>),
}

type Constructor = Box<dyn Fn(&Config) -> Result<AnyProvider> + Send + Sync>;

struct Registration {
    capability: Capability,
    name: String,
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
}

macro_rules! registration_methods {
    ($($fn_name:ident, $cap:ident, $trait:ident;)*) => {
        $(
            #[doc = concat!("Registers a `", stringify!($fn_name), "` provider named `name`, built from its config by `construct`.")]
            pub fn $fn_name<P, F>(self, name: &str, construct: F) -> Self
            where
                P: $trait + 'static,
                F: Fn(&Config) -> Result<P> + Send + Sync + 'static,
            {
                self.register(
                    Capability::$cap,
                    name,
                    Box::new(move |config| Ok(AnyProvider::$cap(Box::new(construct(config)?)))),
                )
            }
        )*
    };
}

impl Adapter {
    /// An adapter with no providers yet. `name` tags its log lines in the host.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Adapter {
            name: name.into(),
            version: version.into(),
            registrations: Vec::new(),
        }
    }

    fn register(mut self, capability: Capability, name: &str, construct: Constructor) -> Self {
        self.registrations.push(Registration {
            capability,
            name: name.to_string(),
            construct,
        });
        self
    }

    registration_methods! {
        incident, Incident, IncidentProvider;
        alert, Alert, AlertProvider;
        log, Log, LogProvider;
        metric, Metric, MetricProvider;
        ticket, Ticket, TicketProvider;
        messaging, Messaging, MessagingProvider;
        service, Service, ServiceProvider;
        deployment, Deployment, DeploymentProvider;
        team, Team, TeamProvider;
        orchestration, Orchestration, OrchestrationProvider;
        secret, Secret, SecretProvider;
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// What this adapter offers, as the host sees it.
    pub fn manifest(&self) -> Manifest {
        Manifest {
            name: self.name.clone(),
            version: self.version.clone(),
            interface_version: crate::abi::INTERFACE_VERSION.to_string(),
            providers: self
                .registrations
                .iter()
                .map(|r| ProviderEntry {
                    capability: r.capability.name().to_string(),
                    name: r.name.clone(),
                })
                .collect(),
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
                Error::bad_request(format!(
                    "adapter {} has no {capability} provider named {name:?}",
                    self.name
                ))
            })?;
        Ok(ProviderInstance {
            capability,
            provider: (registration.construct)(config)?,
        })
    }
}

/// A constructed provider, callable by wire method name with JSON payloads.
/// This is what both transports drive; adapter tests can use it directly.
pub struct ProviderInstance {
    capability: Capability,
    provider: AnyProvider,
}

fn decode<T: DeserializeOwned>(payload: &str) -> Result<T> {
    serde_json::from_str(payload).map_err(|e| Error::bad_request(format!("invalid payload: {e}")))
}

fn encode<T: Serialize>(value: Result<T>) -> Result<String> {
    // Most results are a few KiB: start there rather than grow from 128 B.
    let mut out = Vec::with_capacity(4096);
    serde_json::to_writer(&mut out, &value?)
        .map_err(|e| Error::internal(format!("encoding result: {e}")))?;
    String::from_utf8(out).map_err(|e| Error::internal(format!("encoding result: {e}")))
}

macro_rules! provider_of {
    ($self:ident, $method:ident, $variant:ident) => {
        match &$self.provider {
            AnyProvider::$variant(p) => p,
            _ => return Err($self.wrong_capability(Method::$method)),
        }
    };
}

impl ProviderInstance {
    pub fn capability(&self) -> Capability {
        self.capability
    }

    fn wrong_capability(&self, method: Method) -> Error {
        Error::bad_request(format!(
            "{method} is not a method of the {} capability",
            self.capability
        ))
    }

    /// Calls a method by wire name (`incident.get`) with a JSON payload and
    /// returns the JSON result.
    pub fn call(&self, method: &str, payload: &str) -> Result<String> {
        let method = Method::from_name(method)
            .ok_or_else(|| Error::bad_request(format!("unknown method {method:?}")))?;
        self.call_method(method, payload)
    }

    /// Calls a method with a JSON payload (the shapes of CONTRACT §3).
    pub fn call_method(&self, method: Method, payload: &str) -> Result<String> {
        use Method as M;
        match method {
            M::IncidentQuery => {
                encode(provider_of!(self, IncidentQuery, Incident).query(decode(payload)?))
            }
            M::IncidentList => encode(provider_of!(self, IncidentList, Incident).list()),
            M::IncidentGet => {
                let p: IdPayload = decode(payload)?;
                encode(provider_of!(self, IncidentGet, Incident).get(&p.id))
            }
            M::IncidentCreate => {
                encode(provider_of!(self, IncidentCreate, Incident).create(decode(payload)?))
            }
            M::IncidentUpdate => {
                let p: UpdatePayload<UpdateIncidentInput> = decode(payload)?;
                encode(provider_of!(self, IncidentUpdate, Incident).update(&p.id, p.input))
            }
            M::IncidentTimelineGet => {
                let p: IdPayload = decode(payload)?;
                encode(provider_of!(self, IncidentTimelineGet, Incident).timeline(&p.id))
            }
            M::IncidentTimelineAppend => {
                let p: TimelineAppendPayload<TimelineAppendInput> = decode(payload)?;
                encode(
                    provider_of!(self, IncidentTimelineAppend, Incident)
                        .append_timeline(&p.id, p.entry),
                )
            }
            M::AlertQuery => encode(provider_of!(self, AlertQuery, Alert).query(decode(payload)?)),
            M::AlertGet => {
                let p: IdPayload = decode(payload)?;
                encode(provider_of!(self, AlertGet, Alert).get(&p.id))
            }
            M::LogQuery => encode(provider_of!(self, LogQuery, Log).query(decode(payload)?)),
            M::MetricQuery => {
                encode(provider_of!(self, MetricQuery, Metric).query(decode(payload)?))
            }
            M::MetricDescribe => {
                encode(provider_of!(self, MetricDescribe, Metric).describe(decode(payload)?))
            }
            M::TicketQuery => {
                encode(provider_of!(self, TicketQuery, Ticket).query(decode(payload)?))
            }
            M::TicketGet => {
                let p: IdPayload = decode(payload)?;
                encode(provider_of!(self, TicketGet, Ticket).get(&p.id))
            }
            M::TicketCreate => {
                encode(provider_of!(self, TicketCreate, Ticket).create(decode(payload)?))
            }
            M::TicketUpdate => {
                let p: UpdatePayload<UpdateTicketInput> = decode(payload)?;
                encode(provider_of!(self, TicketUpdate, Ticket).update(&p.id, p.input))
            }
            M::MessagingSend => {
                encode(provider_of!(self, MessagingSend, Messaging).send(decode(payload)?))
            }
            M::ServiceQuery => {
                encode(provider_of!(self, ServiceQuery, Service).query(decode(payload)?))
            }
            M::DeploymentQuery => {
                encode(provider_of!(self, DeploymentQuery, Deployment).query(decode(payload)?))
            }
            M::DeploymentGet => {
                let p: IdPayload = decode(payload)?;
                encode(provider_of!(self, DeploymentGet, Deployment).get(&p.id))
            }
            M::TeamQuery => encode(provider_of!(self, TeamQuery, Team).query(decode(payload)?)),
            M::TeamGet => {
                let p: IdPayload = decode(payload)?;
                encode(provider_of!(self, TeamGet, Team).get(&p.id))
            }
            M::TeamMembers => {
                let p: TeamMembersPayload = decode(payload)?;
                encode(provider_of!(self, TeamMembers, Team).members(&p.team_id))
            }
            M::OrchestrationPlansQuery => encode(
                provider_of!(self, OrchestrationPlansQuery, Orchestration)
                    .query_plans(decode(payload)?),
            ),
            M::OrchestrationPlansGet => {
                let p: PlanIdPayload = decode(payload)?;
                encode(
                    provider_of!(self, OrchestrationPlansGet, Orchestration).get_plan(&p.plan_id),
                )
            }
            M::OrchestrationRunsQuery => encode(
                provider_of!(self, OrchestrationRunsQuery, Orchestration)
                    .query_runs(decode(payload)?),
            ),
            M::OrchestrationRunsGet => {
                let p: RunIdPayload = decode(payload)?;
                encode(provider_of!(self, OrchestrationRunsGet, Orchestration).get_run(&p.run_id))
            }
            M::OrchestrationRunsStart => {
                let p: PlanIdPayload = decode(payload)?;
                encode(
                    provider_of!(self, OrchestrationRunsStart, Orchestration).start_run(&p.plan_id),
                )
            }
            M::OrchestrationRunsStepsComplete => {
                let p: CompleteStepPayload = decode(payload)?;
                encode(
                    provider_of!(self, OrchestrationRunsStepsComplete, Orchestration)
                        .complete_step(&p.run_id, &p.step_id, &p.actor, &p.note),
                )
            }
            M::SecretGet => {
                let p: SecretGetPayload = decode(payload)?;
                encode(provider_of!(self, SecretGet, Secret).get(&p.key))
            }
            M::SecretPut => {
                let p: SecretPutPayload = decode(payload)?;
                encode(provider_of!(self, SecretPut, Secret).put(&p.key, &p.value))
            }
        }
    }
}
