#!/bin/sh
# Runs superd under memcheck, for SUPERD=t/valgrind.sh: any error or leak
# makes it exit non-zero, and the tests assert a clean exit.
dir=$(dirname "$0")
exec valgrind -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    --suppressions="$dir/valgrind.supp" --child-silent-after-fork=yes \
    "$dir/../superd" "$@"
