//! Assembling a job script from a system's templates. OWNER: template/script helper. Skeleton.
