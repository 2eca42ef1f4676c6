//! Translation handlers, one module per family. Each decodes its typed arguments from
//! `SyscallArgs` and returns what the guest sees.

pub(crate) mod acct;
pub(crate) mod exec;
pub(crate) mod fs;
pub(crate) mod handles;
pub(crate) mod ids;
pub(crate) mod mount;
pub(crate) mod mount_ids;
pub(crate) mod owner;
pub(crate) mod path;
pub(crate) mod process;
pub(crate) mod socket;
