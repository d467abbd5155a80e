//! The `keygate` binary: parses the command line and hands over to the library.

/// Every request allocates and frees a few hundred small objects (rows
/// decoded column by column, JSON, headers) across threads; mimalloc serves
/// them from per-thread pages where glibc's allocator takes locks and
/// consolidates.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    keygate::cli::main()
}
