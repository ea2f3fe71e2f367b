//! `GET /openapi.json`: the OpenAPI 3 document, generated from the code.
//!
//! Paths come from iterating the route table (plus the few routes outside
//! it); component schemas come from the data types' `ToSchema` derives
//! (`opsorch_schema`, the SDK's `schema` module with its `openapi` feature).
//! Nothing here is hand-written JSON, so the document cannot drift from the
//! routes.

use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, RefOr,
    Required, ResponseBuilder,
};
use utoipa::ToSchema;

use crate::http::error::ErrorBody;
use crate::http::routes::table::{schema, Http, Reply, SchemaSet, ROUTES};

/// `{"status":"ok"}`.
#[derive(ToSchema)]
#[allow(dead_code)] // Only its schema is used.
struct StatusReply {
    status: String,
}

/// `GET /providers/{cap}`.
#[derive(ToSchema)]
#[allow(dead_code)]
struct ProviderList {
    /// Registered provider names, sorted; then, when a stdio plugin serves
    /// the capability, the provider names its manifest gave.
    providers: Vec<String>,
}

fn string_schema() -> Schema {
    Schema::Object(ObjectBuilder::new().schema_type(Type::String).build())
}

fn json_content(schema: RefOr<Schema>) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

/// Parameters, body and responses shared by every operation.
fn operation(
    schemas: &mut SchemaSet,
    summary: &str,
    tag: &str,
    params: impl Iterator<Item = (&'static str, ParameterIn)>,
    body: Option<RefOr<Schema>>,
    status: &str,
    reply: RefOr<Schema>,
) -> Operation {
    let mut op = OperationBuilder::new().summary(Some(summary)).tag(tag);
    for (name, location) in params {
        let required = if location == ParameterIn::Path {
            Required::True
        } else {
            Required::False
        };
        op = op.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(location)
                .required(required)
                .schema(Some(string_schema())),
        );
    }
    if let Some(body) = body {
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .content("application/json", json_content(body))
                .required(Some(Required::True))
                .build(),
        ));
    }
    let error = schema::<ErrorBody>(schemas);
    op.response(
        status,
        ResponseBuilder::new()
            .description("Success")
            .content("application/json", json_content(reply)),
    )
    .response(
        "default",
        ResponseBuilder::new()
            .description("Error")
            .content("application/json", json_content(error)),
    )
    .build()
}

/// utoipa gives every field of a `#[serde(default)]` struct the default
/// value as `default`, including the fields the host requires (an empty
/// `title`, a `null` expression): a value that the same document calls
/// invalid, and that generators would send. A required field has no default.
fn drop_defaults_of_required(object: &mut utoipa::openapi::schema::Object) {
    for name in &object.required {
        if let Some(RefOr::T(property)) = object.properties.get_mut(name) {
            match property {
                Schema::Object(o) => o.default = None,
                Schema::OneOf(o) => o.default = None,
                Schema::AllOf(o) => o.default = None,
                Schema::AnyOf(o) => o.default = None,
                Schema::Array(o) => o.default = None,
                _ => {}
            }
        }
    }
}

/// Builds the whole document.
pub fn document() -> OpenApi {
    let mut schemas: SchemaSet = Vec::new();
    let mut paths = PathsBuilder::new();

    for route in ROUTES {
        let body = route.body.map(|f| f(&mut schemas));
        let reply = match route.reply {
            Reply::Raw(f) | Reply::Wrapped(_, f) => f(&mut schemas),
            Reply::StatusOk => schema::<StatusReply>(&mut schemas),
        };
        let params = route
            .path_params()
            .map(|p| (p, ParameterIn::Path))
            .chain(route.query.iter().map(|q| (*q, ParameterIn::Query)));
        let mut op = operation(
            &mut schemas,
            route.summary,
            route.method.capability().name(),
            params,
            body,
            route.status.as_str(),
            reply,
        );
        op.operation_id = Some(format!(
            "{}.{}",
            route.method.name(),
            match route.http {
                Http::Get => "get",
                Http::Post => "post",
                Http::Patch => "patch",
            }
        ));
        let http = match route.http {
            Http::Get => HttpMethod::Get,
            Http::Post => HttpMethod::Post,
            Http::Patch => HttpMethod::Patch,
        };
        paths = paths.path(route.path, PathItem::new(http, op));
    }

    let status = schema::<StatusReply>(&mut schemas);
    for path in ["/", "/health"] {
        let op = operation(
            &mut schemas,
            "Health check",
            "meta",
            std::iter::empty(),
            None,
            "200",
            status.clone(),
        );
        paths = paths.path(path, PathItem::new(HttpMethod::Get, op));
    }
    let cap_param = || std::iter::once(("cap", ParameterIn::Path));
    let names = schema::<ProviderList>(&mut schemas);
    let list = operation(
        &mut schemas,
        "List the registered providers of a capability",
        "providers",
        cap_param(),
        None,
        "200",
        names,
    );
    let input = schema::<crate::http::routes::providers::ProviderConfigInput>(&mut schemas);
    let mut configure = operation(
        &mut schemas,
        "Choose a capability's provider (applied now, stored in the secret provider)",
        "providers",
        cap_param(),
        Some(input),
        "200",
        status,
    );
    let error = schema::<ErrorBody>(&mut schemas);
    configure.responses.responses.insert(
        "409".into(),
        RefOr::T(
            ResponseBuilder::new()
                .description(
                    "`secret_store_read_only`: the secret store is read-only (a read-only file, \
                     directory or file system), so the choice cannot be stored; nothing changed",
                )
                .content("application/json", json_content(error))
                .build(),
        ),
    );
    paths = paths
        .path("/providers/{cap}", PathItem::new(HttpMethod::Get, list))
        .path(
            "/providers/{cap}",
            PathItem::new(HttpMethod::Post, configure),
        );

    let reply = schema::<crate::http::routes::capabilities::CapabilitiesReply>(&mut schemas);
    let capabilities = operation(
        &mut schemas,
        "The provider in effect for each capability: name, transport, source, library or \
         plugin (pids), restarts, last error, calls in flight (never config values)",
        "meta",
        std::iter::empty(),
        None,
        "200",
        reply,
    );
    paths = paths.path(
        "/capabilities",
        PathItem::new(HttpMethod::Get, capabilities),
    );

    for (_, schema) in &mut schemas {
        if let RefOr::T(Schema::Object(object)) = schema {
            drop_defaults_of_required(object);
        }
    }
    let components = ComponentsBuilder::new().schemas_from_iter(schemas).build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("OpsOrch Core")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "One API over incident, alert, log, metric, ticket, messaging, service, \
                     deployment, team and orchestration providers.",
                )),
        )
        .paths(paths)
        .components(Some(components))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_with_resolvable_refs() {
        let doc = serde_json::to_value(document()).unwrap();
        assert_eq!(
            doc["openapi"].as_str().map(|v| v.starts_with("3.")),
            Some(true)
        );
        for route in ROUTES {
            let method = match route.http {
                Http::Get => "get",
                Http::Post => "post",
                Http::Patch => "patch",
            };
            let op = &doc["paths"][route.path][method];
            assert!(op.is_object(), "{method} {} missing", route.path);
            assert!(op["responses"][route.status.as_str()].is_object());
        }
        assert!(doc["paths"]["/providers/{cap}"]["post"].is_object());
        let conflict = &doc["paths"]["/providers/{cap}"]["post"]["responses"]["409"];
        assert!(
            conflict["description"]
                .as_str()
                .is_some_and(|d| d.contains("secret_store_read_only")),
            "{conflict}"
        );
        assert!(doc["paths"]["/capabilities"]["get"].is_object());
        assert!(doc["components"]["schemas"]["CapabilityStatus"].is_object());
        // Every $ref points at a component.
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap();
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "dangling ref {name}"
            );
        }
        assert!(doc["components"]["schemas"]["Incident"].is_object());
        assert!(doc["components"]["schemas"]["Timestamp"].is_object());
    }

    /// Every pattern the document publishes is the one the host enforces
    /// (`routes/body_rules.rs`, and `trim` in the provider-configuration
    /// route).
    #[test]
    fn every_published_pattern_is_not_blank() {
        let text = serde_json::to_string(&document()).unwrap();
        let mut count = 0;
        for piece in text.split("\"pattern\":").skip(1) {
            let pattern: String = serde_json::Deserializer::from_str(piece)
                .into_iter::<String>()
                .next()
                .unwrap()
                .unwrap();
            assert_eq!(pattern, opsorch_schema::NOT_BLANK_PATTERN);
            count += 1;
        }
        assert!(count >= 7, "{count}");
    }

    #[test]
    fn required_properties_have_no_default() {
        let doc = serde_json::to_value(document()).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut seen = 0;
        for (name, schema) in schemas {
            for field in schema["required"].as_array().into_iter().flatten() {
                let field = field.as_str().unwrap();
                let property = &schema["properties"][field];
                assert!(property.get("default").is_none(), "{name}.{field}");
                seen += 1;
            }
        }
        assert!(seen >= 7, "{seen}");
        let create = &schemas["CreateIncidentInput"];
        assert_eq!(create["required"], serde_json::json!(["title"]));
        // Optional fields keep theirs.
        assert_eq!(create["properties"]["status"]["default"], "");
    }
}
