#!/bin/sh
# xpr-upload: writes stdin to a file, replacing it atomically.
#
# Run as:  sh -c UPLOAD_PROGRAM xpr-upload PATH            (src/transport/mod.rs)
#
# $1     the file to write; the bytes go to `$1.xpr-part.<pid>`, renamed to $1 when complete
#        (removed on failure).
# stdin  the file's bytes.
# stdout nothing; exit 1 on failure.
part="$1.xpr-part.$$"
if ! { cat > "$part" && mv -f -- "$part" "$1"; }; then rm -f -- "$part"; exit 1; fi
