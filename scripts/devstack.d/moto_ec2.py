"""moto_ec2: what EC2 does with a repeated call that moto 5.2 does not.

A client whose answer was lost sends the call again (the SDK's retry, or mkvpc's next run).
AWS makes that safe where it can; moto made a second resource or failed:

- CreateNatGateway with a ClientToken answers the gateway the first call with that token made
  (AWS's idempotency). moto made a second gateway, which failed on the Elastic IP the first one
  holds (`Resource.AlreadyAssociated`).
- DeleteVpcEndpoints of an endpoint already deleted changes nothing. moto removed the gateway
  endpoint's routes again and failed with `InvalidRoute.NotFound`.
- DeleteLaunchTemplate by an id that is gone answers AWS's `InvalidLaunchTemplateId.NotFound`.
  moto answered `InvalidLaunchTemplateName.NotFoundException`, a code AWS gives for a name.
"""

import threading

from moto.core.responses import ActionResult
from moto.ec2.exceptions import InvalidLaunchTemplateIdNotFound
from moto.ec2.models.vpcs import VPCBackend
from moto.ec2.responses.launch_templates import LaunchTemplates
from moto.ec2.responses.nat_gateways import NatGateways

# moto's server answers requests on threads: the token check and the create are one step.
_LOCK = threading.Lock()


def _install_nat_client_token():
    original = NatGateways.create_nat_gateway

    def create_nat_gateway(self):
        token = self._get_param("ClientToken")
        if not token:
            return original(self)
        backend = self.ec2_backend
        with _LOCK:
            tokens = backend.__dict__.setdefault("_ekskit_nat_client_tokens", {})
            made = backend.nat_gateways.get(tokens.get(token))
            if made is not None:
                return ActionResult({"ClientToken": token, "NatGateway": made})
            before = set(backend.nat_gateways)
            result = original(self)
            for gateway_id in set(backend.nat_gateways) - before:
                tokens[token] = gateway_id
            return result

    NatGateways.create_nat_gateway = create_nat_gateway


def _install_delete_vpc_endpoints_once():
    original = VPCBackend.delete_vpc_endpoints

    def delete_vpc_endpoints(self, vpce_ids=None):
        live = [i for i in vpce_ids or [] if getattr(self.vpc_end_points.get(i), "state", None) != "deleted"]
        return original(self, vpce_ids=live)

    VPCBackend.delete_vpc_endpoints = delete_vpc_endpoints


def _install_delete_launch_template_by_id():
    original = LaunchTemplates.delete_launch_template

    def delete_launch_template(self):
        template_id = self._get_param("LaunchTemplateId")
        if template_id and template_id not in self.ec2_backend.launch_templates:
            raise InvalidLaunchTemplateIdNotFound(template_id)
        return original(self)

    LaunchTemplates.delete_launch_template = delete_launch_template


def install():
    _install_nat_client_token()
    _install_delete_vpc_endpoints_once()
    _install_delete_launch_template_by_id()
