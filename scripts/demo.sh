#!/bin/bash
# The libvirt-vmi demo: installs what it needs, builds, and shows what the
# project does with the example domain.
set -euo pipefail

cd "$(dirname "$0")/.."
scripts/setup-host.sh >/dev/null

VIRT_VMI=build/src/virt-vmi
EXAMPLE=examples/guest-introspected.xml

say() { if [ -t 1 ]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }

say "The example domain carries a <vmi:introspection> element in its <metadata>:"
sed -n '/<vmi:introspection xmlns/,/<\/vmi:introspection>/p' "$EXAMPLE"

say "virt-vmi validate checks it against the schema and the semantic rules:"
$VIRT_VMI validate "$EXAMPLE"

say "virt-vmi domxml-to-native shows the QEMU arguments it becomes (the key never appears in them):"
$VIRT_VMI domxml-to-native "$EXAMPLE"

say "A mistake is refused with what is allowed (here: unhook='0'):"
sed "s/unhook='30'/unhook='0'/" "$EXAMPLE" | $VIRT_VMI validate - || true

say "Done. The element reference is docs/formatdomain-vmi.rst; man build/docs/virt-vmi.1 for the command."
