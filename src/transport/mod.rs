//! Running commands and moving bytes: on this machine, or on a remote host over one
//! multiplexed OpenSSH connection. OWNER: transport helper. Skeleton.
