//! The webhook messaging adapter as a stdio plugin: point
//! `OPSORCH_MESSAGING_PLUGIN` at this binary. It serves exactly what the
//! `libopsorch_webhook` library serves.

fn main() -> std::io::Result<()> {
    opsorch_plugin_api::serve_stdio(opsorch_webhook::adapter())
}
