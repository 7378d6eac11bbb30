//! The `cairn` binary.

/// mimalloc instead of glibc's malloc: rendering audit exports allocates
/// many small JSON values, and glibc's allocator, fragmented by sled's
/// page cache, spent half of an export's time in malloc and free.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    restrict_umask();
    cairn_api::cli::main()
}

/// Everything Cairn writes (the data dir, sled's own files, snapshots,
/// backups, exports) is for the account that runs it alone: with a umask of
/// 077 nothing is created readable by others, whatever the caller's umask,
/// even by code that does not ask for a mode (sled). Cairn also gives
/// explicit modes where it creates files, and tightens the data dir at
/// open: this is the second line.
fn restrict_umask() {
    // SAFETY: umask(2) only sets the process's file mode creation mask and
    // cannot fail; it runs before any other thread exists.
    #[allow(unsafe_code)]
    unsafe {
        libc::umask(0o077);
    }
}
