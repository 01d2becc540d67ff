# Sourced by the bench scripts: builds `kin` in the profile PROFILE names (release by default;
# dev is also built at opt-level 3, without thin LTO) and sets $kin and $bin (its folder).
profile="${PROFILE:-release}"
bin="${CARGO_TARGET_DIR:-target}/release"
[ "$profile" = dev ] && bin="${CARGO_TARGET_DIR:-target}/debug"
cargo build --profile "$profile" --quiet -p kin
kin="$bin/kin"
