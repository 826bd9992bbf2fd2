//! How much memory the allocator may keep. glibc gives busy threads arenas of their own, up
//! to eight per core, and keeps what they freed: under 64 concurrent lists answered whole
//! (`orgd-bench --case worst_list`, debug build, 2 cores) the server peaked at 278 MiB with
//! the default and at 189 MiB with two arenas (`MALLOC_ARENA_MAX=2`), the same requests
//! answered. One arena per core keeps that bound without making threads queue for one.

/// Caps glibc's arenas at one per core (at least two), unless the operator chose a number
/// with `MALLOC_ARENA_MAX`. Call before any thread is started.
pub fn limit_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
            return;
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets a tunable; no thread allocates concurrently yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}
