fn main() {
    std::process::exit(sgd_sde::cli::main());
}
