//! Linux ABI types shared by lxrun's translation crates (vfs, syscalls, backends).

mod errno;

pub use errno::Errno;
