//! The header template language: Python `str.format`-style `{key}` with `{{`/`}}` literal braces.
//!
//! OWNER: template/script helper. Skeleton: interface only.
