fn main() {
    connector_runtime::cli::main(source_pinterest::SourcePinterest)
}
