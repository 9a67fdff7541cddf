#!/usr/bin/env bash
# make teardown ENV=<name> [CONFIRM=<prefix>]: removes an environment
# completely, in the order that works:
#   1. scale its ECS services to zero, so nothing provisions while removing;
#   2. tools/cmd/teardown: device certificates (detached, INACTIVE, deleted),
#      the Things simbridge created and the device policy (IoT refuses to
#      delete a policy still attached to certificates, so the stack could not);
#   3. delete the stack (a production table and key are retained by policy);
#   4. delete the external credentials deploy.sh stored.
# Without CONFIRM it only shows what step 2 would remove (dry run).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
env=${1:-}
file="$root/deployments/environments/$env.env"
if [ -z "$env" ] || [ ! -f "$file" ]; then
	echo "usage: make teardown ENV=<environment> CONFIRM=<its prefix>" >&2
	exit 2
fi
AWS=${AWS:-aws}
GO=${GO:-go}
prefix=$(sed -n 's/^Prefix=//p' "$file")
if [ "${CONFIRM:-}" != "$prefix" ]; then
	(cd "$root" && "$GO" run ./tools/cmd/teardown -prefix "$prefix" -dry-run)
	echo "dry run only: run make teardown ENV=$env CONFIRM=$prefix to remove $prefix" >&2
	exit 0
fi
if "$AWS" cloudformation describe-stacks --stack-name "$prefix" >/dev/null 2>&1; then
	for svc in sim-poller provisioner deactivator onboarding-api vpn-gateway; do
		"$AWS" ecs update-service --cluster "$prefix" --service "$svc" --desired-count 0 >/dev/null || true
	done
	"$AWS" ecs wait services-stable --cluster "$prefix" --services sim-poller provisioner deactivator onboarding-api vpn-gateway || true
fi
(cd "$root" && "$GO" run ./tools/cmd/teardown -prefix "$prefix" -confirm "$prefix")
"$AWS" cloudformation delete-stack --stack-name "$prefix"
"$AWS" cloudformation wait stack-delete-complete --stack-name "$prefix"
for s in once-password openvpn-config openvpn-auth gateway-tls; do
	"$AWS" secretsmanager delete-secret --secret-id "$prefix/$s" --force-delete-without-recovery >/dev/null 2>&1 || true
done
echo "$prefix removed"
