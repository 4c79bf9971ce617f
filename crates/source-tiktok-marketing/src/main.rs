fn main() {
    connector_runtime::cli::main(source_tiktok_marketing::SourceTiktokMarketing)
}
