//! Allocator settings for a process that reads answers of a few MB on a few threads.
//!
//! The connectors are built against glibc (statically, for the images), whose `malloc` gives
//! each thread that meets contention an arena of its own and, once the first large buffer is
//! freed, raises its mmap threshold (up to 32 MB), so that later answer bodies of a few MB come
//! from those arenas and stay resident, fragmented, after they are freed. Measured on the
//! benchmark's Pinterest analytics workload (bodies of about 2.5 MB on two workers): a heap
//! peak near 20 MB held some 42 MiB resident with the defaults, 30 MiB with one arena and a
//! fixed 128 KiB mmap threshold (every large body mapped on its own and returned when dropped).
//! The threads mostly wait on the network, so sharing one arena costs little.

/// Applies the settings; call it first thing in `main`, before any thread starts, since
/// arenas already made are kept. Does nothing where the C library is not glibc.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes allocator parameters; it is called before other threads
    // exist, and a rejected setting (return value 0) leaves the defaults in place.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
