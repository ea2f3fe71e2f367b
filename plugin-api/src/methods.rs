//! The one table of capabilities and provider methods.
//!
//! Every transport uses these names: the SDK's dispatch, the host's routes,
//! the stable-ABI `call` and the stdio protocol. Adding a method means adding
//! one line to the `methods!` invocation below (and, in the SDK, one match arm
//! that the compiler will ask for).

use std::fmt;

/// A capability: one area of the unified API, served by one provider at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    Incident,
    Alert,
    Log,
    Metric,
    Ticket,
    Messaging,
    Service,
    Deployment,
    Team,
    Orchestration,
    Secret,
}

impl Capability {
    /// Every capability, in a stable order.
    pub const ALL: [Capability; 11] = [
        Capability::Incident,
        Capability::Alert,
        Capability::Log,
        Capability::Metric,
        Capability::Ticket,
        Capability::Messaging,
        Capability::Service,
        Capability::Deployment,
        Capability::Team,
        Capability::Orchestration,
        Capability::Secret,
    ];

    /// The ten capabilities that have REST routes (everything but `secret`).
    pub const ROUTED: [Capability; 10] = [
        Capability::Incident,
        Capability::Alert,
        Capability::Log,
        Capability::Metric,
        Capability::Ticket,
        Capability::Messaging,
        Capability::Service,
        Capability::Deployment,
        Capability::Team,
        Capability::Orchestration,
    ];

    /// The canonical singular name: `incident`, `messaging`, `secret`, …
    /// It prefixes method names and forms the `<cap>_provider_missing` code.
    pub const fn name(self) -> &'static str {
        match self {
            Capability::Incident => "incident",
            Capability::Alert => "alert",
            Capability::Log => "log",
            Capability::Metric => "metric",
            Capability::Ticket => "ticket",
            Capability::Messaging => "messaging",
            Capability::Service => "service",
            Capability::Deployment => "deployment",
            Capability::Team => "team",
            Capability::Orchestration => "orchestration",
            Capability::Secret => "secret",
        }
    }

    /// The upper-case infix of its environment variables (`OPSORCH_<CAP>_PROVIDER`).
    pub const fn env_key(self) -> &'static str {
        match self {
            Capability::Incident => "INCIDENT",
            Capability::Alert => "ALERT",
            Capability::Log => "LOG",
            Capability::Metric => "METRIC",
            Capability::Ticket => "TICKET",
            Capability::Messaging => "MESSAGING",
            Capability::Service => "SERVICE",
            Capability::Deployment => "DEPLOYMENT",
            Capability::Team => "TEAM",
            Capability::Orchestration => "ORCHESTRATION",
            Capability::Secret => "SECRET",
        }
    }

    /// Parses a canonical name exactly (`incident`, `messaging`, `secret`).
    pub fn from_name(name: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Parses the `{cap}` of `/providers/{cap}`: singular or plural, any case,
    /// `message(s)` or `messaging`. The secret capability is not configurable
    /// over HTTP, so it is not accepted here.
    pub fn from_route_name(name: &str) -> Option<Capability> {
        let lower = name.to_ascii_lowercase();
        let singular = match lower.as_str() {
            "message" | "messages" | "messaging" => return Some(Capability::Messaging),
            other => other.strip_suffix('s').unwrap_or(other),
        };
        Capability::ROUTED
            .into_iter()
            .find(|c| c.name() == singular)
    }

    /// The methods of this capability, in table order.
    pub fn methods(self) -> impl Iterator<Item = Method> {
        Method::ALL
            .iter()
            .copied()
            .filter(move |m| m.capability() == self)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a method returns, so that every transport can normalise results the
/// same way (for instance a `null` list from an old stdio plugin becomes `[]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultKind {
    /// A JSON array of objects.
    List,
    /// A single JSON object.
    Object,
    /// A JSON string (`secret.get`).
    String,
    /// Nothing of interest; the result is ignored.
    Unit,
}

impl ResultKind {
    /// The JSON to use when a provider sent `null` or no result at all.
    pub const fn empty_json(self) -> &'static str {
        match self {
            ResultKind::List => "[]",
            ResultKind::Object => "{}",
            ResultKind::String => "\"\"",
            ResultKind::Unit => "null",
        }
    }
}

/// One row of the method table.
#[derive(Clone, Copy, Debug)]
pub struct MethodSpec {
    pub method: Method,
    /// The wire name, e.g. `incident.timeline.append`.
    pub name: &'static str,
    pub capability: Capability,
    pub result: ResultKind,
}

macro_rules! methods {
    ($($variant:ident => $name:literal, $cap:ident, $result:ident;)*) => {
        /// A provider method. Its wire name is [`Method::name`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Method {
            $($variant,)*
        }

        /// The method table: one row per provider method of every capability.
        pub static METHODS: &[MethodSpec] = &[
            $(MethodSpec {
                method: Method::$variant,
                name: $name,
                capability: Capability::$cap,
                result: ResultKind::$result,
            },)*
        ];

        impl Method {
            /// Every method, in table order.
            pub const ALL: &'static [Method] = &[$(Method::$variant,)*];
        }
    };
}

methods! {
    IncidentQuery => "incident.query", Incident, List;
    IncidentList => "incident.list", Incident, List;
    IncidentGet => "incident.get", Incident, Object;
    IncidentCreate => "incident.create", Incident, Object;
    IncidentUpdate => "incident.update", Incident, Object;
    IncidentTimelineGet => "incident.timeline.get", Incident, List;
    IncidentTimelineAppend => "incident.timeline.append", Incident, Unit;
    AlertQuery => "alert.query", Alert, List;
    AlertGet => "alert.get", Alert, Object;
    LogQuery => "log.query", Log, Object;
    MetricQuery => "metric.query", Metric, List;
    MetricDescribe => "metric.describe", Metric, List;
    TicketQuery => "ticket.query", Ticket, List;
    TicketGet => "ticket.get", Ticket, Object;
    TicketCreate => "ticket.create", Ticket, Object;
    TicketUpdate => "ticket.update", Ticket, Object;
    MessagingSend => "messaging.send", Messaging, Object;
    ServiceQuery => "service.query", Service, List;
    DeploymentQuery => "deployment.query", Deployment, List;
    DeploymentGet => "deployment.get", Deployment, Object;
    TeamQuery => "team.query", Team, List;
    TeamGet => "team.get", Team, Object;
    TeamMembers => "team.members", Team, List;
    OrchestrationPlansQuery => "orchestration.plans.query", Orchestration, List;
    OrchestrationPlansGet => "orchestration.plans.get", Orchestration, Object;
    OrchestrationRunsQuery => "orchestration.runs.query", Orchestration, List;
    OrchestrationRunsGet => "orchestration.runs.get", Orchestration, Object;
    OrchestrationRunsStart => "orchestration.runs.start", Orchestration, Object;
    OrchestrationRunsStepsComplete => "orchestration.runs.steps.complete", Orchestration, Unit;
    SecretGet => "secret.get", Secret, String;
    SecretPut => "secret.put", Secret, Unit;
}

impl Method {
    /// This method's row of [`METHODS`].
    pub fn spec(self) -> &'static MethodSpec {
        // The table is generated in declaration order, so the discriminant is the index.
        &METHODS[self as usize]
    }

    /// The wire name, e.g. `incident.get`.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    pub fn capability(self) -> Capability {
        self.spec().capability
    }

    pub fn result_kind(self) -> ResultKind {
        self.spec().result
    }

    /// Looks a wire name up in the table.
    pub fn from_name(name: &str) -> Option<Method> {
        METHODS.iter().find(|s| s.name == name).map(|s| s.method)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_discriminant() {
        for (i, spec) in METHODS.iter().enumerate() {
            assert_eq!(spec.method as usize, i);
            assert_eq!(Method::from_name(spec.name), Some(spec.method));
            assert!(spec.name.starts_with(spec.capability.name()));
        }
        assert_eq!(Method::from_name("incident.nope"), None);
    }

    #[test]
    fn every_capability_has_methods() {
        for cap in Capability::ALL {
            assert!(cap.methods().count() > 0, "{cap} has no methods");
        }
        assert_eq!(Capability::Orchestration.methods().count(), 6);
    }

    #[test]
    fn route_names_normalise() {
        assert_eq!(
            Capability::from_route_name("Incidents"),
            Some(Capability::Incident)
        );
        assert_eq!(
            Capability::from_route_name("ALERT"),
            Some(Capability::Alert)
        );
        assert_eq!(
            Capability::from_route_name("messages"),
            Some(Capability::Messaging)
        );
        assert_eq!(
            Capability::from_route_name("Messaging"),
            Some(Capability::Messaging)
        );
        assert_eq!(
            Capability::from_route_name("orchestrations"),
            Some(Capability::Orchestration)
        );
        assert_eq!(Capability::from_route_name("secret"), None);
        assert_eq!(Capability::from_route_name("widgets"), None);
        assert_eq!(Capability::from_route_name(""), None);
    }
}
