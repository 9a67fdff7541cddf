#!/usr/bin/env bash
# make deploy ENV=<name>: deploys simbridge to the AWS account and region of
# the current AWS CLI credentials, in one command per environment:
#   1. the image registry stack (ECR, shared by the account's environments);
#   2. the images, tagged with the git commit, built and pushed unless the
#      registry has them (SKIP_IMAGES=1 with IMAGE_TAG=<tag> reuses pushed ones);
#   3. the external credentials, from files, into Secrets Manager - never on a
#      command line, in a parameter or in a log: ONCE_PASSWORD_FILE,
#      OPENVPN_CONFIG_FILE, OPENVPN_AUTH_FILE, GATEWAY_TLS_FILE (required on the
#      first deploy, optional later);
#   4. the environment's stack with deployments/environments/<ENV>.env as parameters;
#   5. the one-time IoT CA setup (idempotent): the CA certificate is self-signed
#      through the stack's KMS key, registered with IoT Core and stored in SSM;
#      the provisioner waits for it (live, not ready) on the first deploy. It
#      runs as the stack's CASetupRole, the only signer besides the provisioner
#      the CA key's policy names (the deployer needs sts:AssumeRole on it).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
env=${1:-}
file="$root/deployments/environments/$env.env"
if [ -z "$env" ] || [ ! -f "$file" ]; then
	echo "usage: make deploy ENV=<environment>; environments: $(cd "$root/deployments/environments" && ls ./*.env | sed 's#./##; s#\.env##' | tr '\n' ' ')" >&2
	exit 2
fi
AWS=${AWS:-aws}
DOCKER=${DOCKER:-docker}
command -v "$AWS" >/dev/null || { echo "the AWS CLI is required (aws)" >&2; exit 1; }

params=()
file_region=
while IFS= read -r line || [ -n "$line" ]; do
	case "$line" in
	''|'#'*) continue ;;
	AWS_REGION=*) file_region=${line#AWS_REGION=}; continue ;; # where the environment lives (simbridge --env reads it too)
	esac
	params+=("$line")
done <"$file"
param() { local p; for p in "${params[@]}"; do [ "${p%%=*}" = "$1" ] && echo "${p#*=}"; done; return 0; }
prefix=$(param Prefix)
[ -n "$prefix" ] || { echo "$file sets no Prefix" >&2; exit 1; }
# The stack's rule refuses the same; saying it now saves building the images.
if [ "$(param Environment)" = production ] && [ -z "$(param AlarmEmail)" ] && [ -z "$(param AlarmSubscriberTopicArn)" ]; then
	echo "a production stack must reach a person when it alarms: set AlarmEmail (an address someone reads) or" \
		"AlarmSubscriberTopicArn (the SNS topic of your chat or pager integration) in $file" >&2
	exit 1
fi

account=$("$AWS" sts get-caller-identity --query Account --output text)
region=${file_region:-${AWS_REGION:-${AWS_DEFAULT_REGION:-$("$AWS" configure get region || true)}}}
if [ -n "$file_region" ] && [ -n "${AWS_REGION:-}" ] && [ "$AWS_REGION" != "$file_region" ]; then
	echo "note: $file sets AWS_REGION=$file_region; deploying there, not to AWS_REGION=$AWS_REGION" >&2
fi
[ -n "$region" ] || { echo "no region: set AWS_REGION" >&2; exit 1; }
registry="$account.dkr.ecr.$region.amazonaws.com"
tag=${IMAGE_TAG:-$(git -C "$root" rev-parse --short=12 HEAD)}
services=(sim-poller provisioner deactivator onboarding-api vpn-gateway)
echo "deploying $env ($prefix) to account $account, $region, images $tag"

# 1. registry
"$AWS" cloudformation deploy --region "$region" --stack-name simbridge-registry \
	--template-file "$root/deployments/cloudformation/registry.yaml" \
	--capabilities CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset

# 2. images
if [ -z "${SKIP_IMAGES:-}" ]; then
	"$AWS" ecr get-login-password --region "$region" | "$DOCKER" login --username AWS --password-stdin "$registry"
	for svc in "${services[@]}"; do
		if "$AWS" ecr describe-images --region "$region" --repository-name "simbridge/$svc" --image-ids "imageTag=$tag" >/dev/null 2>&1; then
			echo "image simbridge/$svc:$tag already pushed"
			continue
		fi
		target=service
		[ "$svc" = vpn-gateway ] && target=gateway
		"$DOCKER" build --platform linux/amd64 -f "$root/deployments/docker/Dockerfile" \
			--build-arg "SERVICE=$svc" --target "$target" -t "$registry/simbridge/$svc:$tag" "$root"
		"$DOCKER" push "$registry/simbridge/$svc:$tag"
	done
fi

# 3. external credentials (file:// keeps values off the command line)
put_secret() {
	local name="$prefix/$1" path=$2
	if [ -z "$path" ]; then
		if ! "$AWS" secretsmanager describe-secret --region "$region" --secret-id "$name" >/dev/null 2>&1; then
			[ "$1" = gateway-tls ] && [ "$(param GatewayTls)" != true ] && return 0
			echo "secret $name does not exist yet: pass its file (${3})" >&2
			exit 1
		fi
		return 0
	fi
	[ -r "$path" ] || { echo "$3=$path is not readable" >&2; exit 1; }
	if "$AWS" secretsmanager describe-secret --region "$region" --secret-id "$name" >/dev/null 2>&1; then
		"$AWS" secretsmanager put-secret-value --region "$region" --secret-id "$name" --secret-string "file://$path" >/dev/null
	else
		"$AWS" secretsmanager create-secret --region "$region" --name "$name" --secret-string "file://$path" >/dev/null
	fi
	echo "secret $name stored"
}
put_secret once-password "${ONCE_PASSWORD_FILE:-}" ONCE_PASSWORD_FILE
put_secret openvpn-config "${OPENVPN_CONFIG_FILE:-}" OPENVPN_CONFIG_FILE
put_secret openvpn-auth "${OPENVPN_AUTH_FILE:-}" OPENVPN_AUTH_FILE
put_secret gateway-tls "${GATEWAY_TLS_FILE:-}" GATEWAY_TLS_FILE

# 4. the environment
"$AWS" cloudformation deploy --region "$region" --stack-name "$prefix" \
	--template-file "$root/deployments/cloudformation/simbridge.yaml" \
	--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
	--parameter-overrides "${params[@]}" "ImageRepository=$registry/simbridge" "ImageTag=$tag"

# 5. the IoT CA (the key is the stack's; this registers its certificate once),
#    as CASetupRole: its credentials reach the setup in its environment only.
if [ "$(param CertAuthority)" != aws ]; then
	role=$("$AWS" cloudformation describe-stacks --region "$region" --stack-name "$prefix" \
		--query "Stacks[0].Outputs[?OutputKey=='CASetupRoleArn'].OutputValue" --output text)
	case "$role" in arn:*) ;; *) echo "stack $prefix has no CASetupRoleArn output" >&2; exit 1 ;; esac
	creds=$("$AWS" sts assume-role --region "$region" --role-arn "$role" --role-session-name "simbridge-ca-setup" \
		--query "Credentials.[AccessKeyId,SecretAccessKey,SessionToken]" --output text)
	read -r key secret token <<<"$creds"
	(cd "$root" && env -u AWS_PROFILE AWS_REGION="$region" AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" \
		AWS_SESSION_TOKEN="$token" ${GO:-go} run ./tools/cmd/bootstrap -prefix "$prefix" -ca-only)
fi
"$AWS" cloudformation describe-stacks --region "$region" --stack-name "$prefix" --query "Stacks[0].Outputs" --output table
