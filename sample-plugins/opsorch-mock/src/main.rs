//! The mock adapter as a stdio plugin: point `OPSORCH_<CAP>_PLUGIN` at this
//! binary. It serves exactly what the `libopsorch_mock` library serves.

fn main() -> std::io::Result<()> {
    opsorch_plugin_api::serve_stdio(opsorch_mock::adapter())
}
