//! The `cairn` binary.

/// mimalloc instead of glibc's malloc: rendering audit exports allocates
/// many small JSON values, and glibc's allocator, fragmented by sled's
/// page cache, spent half of an export's time in malloc and free.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cairn_api::cli::main()
}
