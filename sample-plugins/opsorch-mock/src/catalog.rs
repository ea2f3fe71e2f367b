//! The fixed shape of Acme Retail: services, teams, environments and the
//! reference instant. None of this depends on the seed, so ids such as
//! `checkout` or `platform` work in every demo and README example.

use chrono::{DateTime, Duration, Utc};
use opsorch_plugin_api::schema::Timestamp;

/// Root of every deep link the mock hands out.
pub const BASE_URL: &str = "https://mock.opsorch.local";

/// 2026-11-01T00:00:00Z: "now" for the seeded world. Fixed, so that the same
/// seed gives byte-identical data whenever it is generated.
pub const REFERENCE_UNIX: i64 = 1_793_491_200;

pub fn reference_time() -> DateTime<Utc> {
    DateTime::from_timestamp(REFERENCE_UNIX, 0).unwrap_or_default()
}

/// The reference instant shifted by `offset_secs` (negative = in the past).
pub fn at(offset_secs: i64) -> Timestamp {
    Timestamp::from(reference_time() + Duration::seconds(offset_secs))
}

pub const ENVIRONMENTS: [&str; 2] = ["production", "staging"];
pub const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

pub struct ServiceDef {
    pub id: &'static str,
    pub name: &'static str,
    /// Owning team id.
    pub team: &'static str,
    pub tier: &'static str,
    pub language: &'static str,
    pub description: &'static str,
    /// HTTP routes it serves; used to make log lines and alerts concrete.
    pub endpoints: &'static [&'static str],
    /// What it calls; used for "upstream X failed" style messages.
    pub dependencies: &'static [&'static str],
}

pub const SERVICES: &[ServiceDef] = &[
    ServiceDef {
        id: "checkout",
        name: "Checkout",
        team: "commerce",
        tier: "tier-1",
        language: "go",
        description: "Cart checkout flow: totals, promotions and order placement",
        endpoints: &[
            "/api/v1/cart",
            "/api/v1/checkout",
            "/api/v1/checkout/confirm",
        ],
        dependencies: &["payments", "inventory", "orders", "postgres-checkout"],
    },
    ServiceDef {
        id: "payments",
        name: "Payments",
        team: "commerce",
        tier: "tier-1",
        language: "java",
        description: "Card authorisation, capture and refunds via Stripe and Adyen",
        endpoints: &[
            "/api/v1/payments/authorize",
            "/api/v1/payments/capture",
            "/api/v1/refunds",
        ],
        dependencies: &["stripe", "adyen", "postgres-payments", "fraud-scoring"],
    },
    ServiceDef {
        id: "api-gateway",
        name: "API Gateway",
        team: "platform",
        tier: "tier-1",
        language: "go",
        description: "Edge routing, rate limiting and authentication for all public APIs",
        endpoints: &["/healthz", "/api/*", "/graphql"],
        dependencies: &["auth", "redis-ratelimit"],
    },
    ServiceDef {
        id: "search",
        name: "Search",
        team: "discovery",
        tier: "tier-2",
        language: "kotlin",
        description: "Product search and autocomplete backed by Elasticsearch",
        endpoints: &["/api/v1/search", "/api/v1/autocomplete"],
        dependencies: &["elasticsearch", "catalog"],
    },
    ServiceDef {
        id: "catalog",
        name: "Catalog",
        team: "discovery",
        tier: "tier-2",
        language: "java",
        description: "Product catalogue, prices and media",
        endpoints: &[
            "/api/v1/products",
            "/api/v1/products/{id}",
            "/api/v1/categories",
        ],
        dependencies: &["postgres-catalog", "s3-media", "redis-catalog"],
    },
    ServiceDef {
        id: "inventory",
        name: "Inventory",
        team: "fulfillment",
        tier: "tier-1",
        language: "go",
        description: "Stock levels and reservations synchronised with the warehouse system",
        endpoints: &["/api/v1/stock", "/api/v1/reservations"],
        dependencies: &["postgres-inventory", "kafka", "wms"],
    },
    ServiceDef {
        id: "notifications",
        name: "Notifications",
        team: "platform",
        tier: "tier-3",
        language: "python",
        description: "Transactional email, SMS and push notifications",
        endpoints: &["/api/v1/notify", "/api/v1/templates"],
        dependencies: &["sendgrid", "twilio", "kafka"],
    },
    ServiceDef {
        id: "auth",
        name: "Auth",
        team: "platform",
        tier: "tier-1",
        language: "rust",
        description: "Login, SSO and token issuance",
        endpoints: &["/oauth/token", "/login", "/sso/callback"],
        dependencies: &["postgres-auth", "okta", "redis-sessions"],
    },
    ServiceDef {
        id: "web-frontend",
        name: "Web Frontend",
        team: "web",
        tier: "tier-1",
        language: "typescript",
        description: "The acme-retail.example storefront (Next.js)",
        endpoints: &["/", "/p/{slug}", "/cart", "/account"],
        dependencies: &["api-gateway", "cdn"],
    },
    ServiceDef {
        id: "recommendations",
        name: "Recommendations",
        team: "data",
        tier: "tier-3",
        language: "python",
        description: "Personalised product recommendations served from a feature store",
        endpoints: &["/api/v1/recommendations", "/api/v1/similar"],
        dependencies: &["feature-store", "model-server", "catalog"],
    },
    ServiceDef {
        id: "orders",
        name: "Orders",
        team: "commerce",
        tier: "tier-1",
        language: "java",
        description: "Order lifecycle: placement, cancellation and history",
        endpoints: &[
            "/api/v1/orders",
            "/api/v1/orders/{id}",
            "/api/v1/orders/{id}/cancel",
        ],
        dependencies: &["postgres-orders", "kafka", "payments"],
    },
    ServiceDef {
        id: "shipping",
        name: "Shipping",
        team: "fulfillment",
        tier: "tier-2",
        language: "go",
        description: "Carrier rates, labels and tracking",
        endpoints: &["/api/v1/rates", "/api/v1/labels", "/api/v1/tracking/{id}"],
        dependencies: &["fedex-api", "ups-api", "kafka"],
    },
];

pub struct TeamDef {
    pub id: &'static str,
    pub name: &'static str,
    /// Parent team id; empty for the root.
    pub parent: &'static str,
    pub slack: &'static str,
    pub cost_center: &'static str,
    /// Number of people on the team (3-6).
    pub size: usize,
}

pub const TEAMS: &[TeamDef] = &[
    TeamDef {
        id: "engineering",
        name: "Engineering",
        parent: "",
        slack: "#engineering",
        cost_center: "CC-1000",
        size: 3,
    },
    TeamDef {
        id: "platform",
        name: "Platform",
        parent: "engineering",
        slack: "#team-platform",
        cost_center: "CC-1100",
        size: 5,
    },
    TeamDef {
        id: "sre",
        name: "Site Reliability",
        parent: "platform",
        slack: "#team-sre",
        cost_center: "CC-1110",
        size: 4,
    },
    TeamDef {
        id: "commerce",
        name: "Commerce",
        parent: "engineering",
        slack: "#team-commerce",
        cost_center: "CC-1200",
        size: 6,
    },
    TeamDef {
        id: "discovery",
        name: "Discovery",
        parent: "engineering",
        slack: "#team-discovery",
        cost_center: "CC-1300",
        size: 4,
    },
    TeamDef {
        id: "fulfillment",
        name: "Fulfillment",
        parent: "engineering",
        slack: "#team-fulfillment",
        cost_center: "CC-1400",
        size: 4,
    },
    TeamDef {
        id: "data",
        name: "Data & ML",
        parent: "engineering",
        slack: "#team-data",
        cost_center: "CC-1500",
        size: 3,
    },
    TeamDef {
        id: "web",
        name: "Web Experience",
        parent: "engineering",
        slack: "#team-web",
        cost_center: "CC-1600",
        size: 4,
    },
];

pub fn service(id: &str) -> Option<&'static ServiceDef> {
    SERVICES.iter().find(|s| s.id.eq_ignore_ascii_case(id))
}

pub fn team(id: &str) -> Option<&'static TeamDef> {
    TEAMS.iter().find(|t| t.id.eq_ignore_ascii_case(id))
}

/// Whether `team_id` is `root` or one of its descendants. Scope filters use
/// this so that `scope.team=engineering` covers the whole organisation and
/// `scope.team=platform` includes Site Reliability.
pub fn team_within(team_id: &str, root: &str) -> bool {
    let mut current = team(team_id);
    // The hierarchy is a small static tree; the bound only guards against a
    // future edit introducing a cycle.
    for _ in 0..TEAMS.len() {
        match current {
            Some(t) if t.id.eq_ignore_ascii_case(root) => return true,
            Some(t) if !t.parent.is_empty() => current = team(t.parent),
            _ => return false,
        }
    }
    false
}

/// Whether `service_id` is owned by `root` or one of its sub-teams.
pub fn service_within_team(service_id: &str, root: &str) -> bool {
    service(service_id).is_some_and(|s| team_within(s.team, root))
}

/// Maps the many spellings of an environment onto one, so that the contract's
/// coarse `prod` matches the mock's `production`.
pub fn canonical_env(env: &str) -> &str {
    match env.to_ascii_lowercase().as_str() {
        "prod" | "prd" | "production" | "live" => "production",
        "stg" | "stage" | "staging" => "staging",
        "dev" | "development" => "development",
        _ => env,
    }
}

pub fn env_matches(value: &str, wanted: &str) -> bool {
    canonical_env(value).eq_ignore_ascii_case(canonical_env(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_has_a_known_owner_and_every_parent_exists() {
        for s in SERVICES {
            assert!(team(s.team).is_some(), "{} owner {}", s.id, s.team);
        }
        for t in TEAMS {
            assert!(t.parent.is_empty() || team(t.parent).is_some());
            assert!((3..=6).contains(&t.size));
        }
    }

    #[test]
    fn team_hierarchy_is_walked() {
        assert!(team_within("sre", "platform"));
        assert!(team_within("sre", "engineering"));
        assert!(!team_within("platform", "sre"));
        assert!(service_within_team("auth", "engineering"));
        assert!(!service_within_team("auth", "commerce"));
        assert!(!service_within_team("nope", "engineering"));
    }

    #[test]
    fn environments_have_aliases() {
        assert!(env_matches("production", "prod"));
        assert!(env_matches("Staging", "stg"));
        assert!(!env_matches("production", "staging"));
    }

    #[test]
    fn reference_instant_is_november_first() {
        assert_eq!(at(0).to_string(), "2026-11-01T00:00:00Z");
    }
}
