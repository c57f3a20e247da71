#!/usr/bin/env python3
"""A Gy/Ro charging client for the tutorial: sends CCR-INITIAL, -UPDATE, -TERMINATION (or one CCR-EVENT) to the
OCS and prints each CCA. It plays the PCEF (data), the IMS node (voice) or the SMSC (SMS), with python-diameter
(pip install python-diameter) as its Diameter stack.

    python tutorials/diameter/gy_client.py voice --caller 491701234567 --called 491709876543 --used 60,45
    python tutorials/diameter/gy_client.py data --subscriber 491701234567 --used 1048576,524288
    python tutorials/diameter/gy_client.py sms --caller 491701234567 --called 491709876543

``--used`` lists what each report says was used: one CCR-UPDATE per item but the last, which goes in the
CCR-TERMINATION (seconds for voice, octets for data).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
import uuid

from diameter.message import constants
from diameter.message.avp import Avp
from diameter.message.commands import CreditControlRequest
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication

TGPP = 10415
CONTEXTS = {"voice": "32260@3gpp.org", "data": "32251@3gpp.org", "sms": "32274@3gpp.org"}
RESULT_NAMES = {2001: "SUCCESS", 4010: "END_USER_SERVICE_DENIED", 4012: "CREDIT_LIMIT_REACHED",
                5012: "UNABLE_TO_COMPLY", 5030: "USER_UNKNOWN"}


def avp(code: int, value, vendor: int = 0) -> Avp:
    item = Avp.new(code, vendor)
    item.is_mandatory = True
    item.value = value
    return item


class Client:
    """One Diameter node with a credit-control application, connected to the OCS."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.node = Node(args.origin_host, args.origin_realm)
        self.node.idle_timeout = 30
        self.node.wakeup_interval = 0.2  # how often the node's loop looks at its peers (and notices it may stop)
        peer = self.node.add_peer(f"aaa://{args.peer}:{args.port};transport=tcp", args.realm,
                                  ip_addresses=[args.address], is_persistent=True)
        self.app = SimpleThreadingApplication(constants.APP_DIAMETER_CREDIT_CONTROL_APPLICATION,
                                              is_auth_application=True, request_handler=self.on_request)
        self.node.add_application(self.app, [peer])
        self.session = f"{args.origin_host};{int(time.time())};{uuid.uuid4().hex[:8]}"
        self.number = 0

    def on_request(self, app, request):
        """An ASR or RAR from the OCS: acknowledge it (a real PCEF would then end or re-authorize the session)."""
        kind = {274: "ASR", 258: "RAR"}.get(request.header.command_code, str(request.header.command_code))
        print(f"<- {kind} for session {request.session_id}")
        return app.generate_answer(request, constants.E_RESULT_CODE_DIAMETER_SUCCESS)

    def __enter__(self) -> Client:
        self.node.start()
        self.app.wait_for_ready(10)
        return self

    def __exit__(self, *exc) -> None:
        self.node.stop(2)

    def ccr(self, request_type: int) -> CreditControlRequest:
        msg = CreditControlRequest()
        msg.header.is_proxyable = True
        msg.session_id = self.session
        msg.origin_host = self.args.origin_host.encode()
        msg.origin_realm = self.args.origin_realm.encode()
        msg.destination_realm = self.args.realm.encode()
        msg.auth_application_id = constants.APP_DIAMETER_CREDIT_CONTROL_APPLICATION
        msg.service_context_id = CONTEXTS[self.args.service]
        msg.cc_request_type = request_type
        msg.cc_request_number = self.number
        msg.event_timestamp = datetime.datetime.now(datetime.UTC)
        msg.append_avp(avp(443, [avp(450, 0), avp(444, self.args.subscriber)]))  # Subscription-Id, END_USER_E164
        self.number += 1
        return msg

    def send(self, msg: CreditControlRequest) -> None:
        kind = {1: "CCR-I", 2: "CCR-U", 3: "CCR-T", 4: "CCR-E"}[msg.cc_request_type]
        cca = self.app.send_request(msg, 10)
        code = cca.result_code
        line = f"{kind} #{msg.cc_request_number} -> Result-Code {code} ({RESULT_NAMES.get(code, '?')})"
        gsu = getattr(cca, "granted_service_unit", None)
        if gsu is not None and gsu.cc_time is not None:
            line += f", granted {gsu.cc_time} s"
        if gsu is not None and gsu.cc_service_specific_units is not None:
            line += f", granted {gsu.cc_service_specific_units} SMS"
        if getattr(cca, "final_unit_indication", None) is not None:
            line += ", final units (TERMINATE)"
        for mscc in cca.multiple_services_credit_control or []:
            octets = mscc.granted_service_unit.cc_total_octets if mscc.granted_service_unit else None
            line += f"; Rating-Group {mscc.rating_group}: {mscc.result_code}"
            if octets is not None:
                line += f", granted {octets} octets, valid {mscc.validity_time} s"
            if mscc.final_unit_indication is not None:
                line += ", final units (TERMINATE)"
        print(line, flush=True)


def voice(client: Client, used: list[int]) -> None:
    def ims(msg, requested: int | None, spent: int | None):
        ims_info = avp(876, [avp(831, f"tel:+{client.args.subscriber}", TGPP),
                             avp(832, f"tel:+{client.args.called}", TGPP)], TGPP)
        msg.append_avp(avp(873, [ims_info], TGPP))  # Service-Information
        if requested is not None:
            msg.append_avp(avp(437, [avp(420, requested)]))  # Requested-Service-Unit.CC-Time
        if spent is not None:
            msg.append_avp(avp(446, [avp(420, spent)]))  # Used-Service-Unit.CC-Time
        return msg

    client.send(ims(client.ccr(1), client.args.request, None))
    for spent in used[:-1]:
        client.send(ims(client.ccr(2), client.args.request, spent))
    client.send(ims(client.ccr(3), None, used[-1] if used else 0))


def data(client: Client, used: list[int]) -> None:
    def mscc(msg, spent: int | None, ask: bool = True):
        msg.called_station_id = client.args.apn
        items = [avp(432, client.args.rating_group)]  # Rating-Group
        if ask:
            items.append(avp(437, []))  # an empty Requested-Service-Unit: the OCS picks the quota
        if spent is not None:
            items.append(avp(446, [avp(421, spent)]))  # Used-Service-Unit.CC-Total-Octets
        msg.append_avp(avp(456, items))  # Multiple-Services-Credit-Control
        return msg

    client.send(mscc(client.ccr(1), None))
    for spent in used[:-1]:
        client.send(mscc(client.ccr(2), spent))
    client.send(mscc(client.ccr(3), used[-1] if used else 0, ask=False))


def sms(client: Client, _used: list[int]) -> None:
    msg = client.ccr(4)
    msg.requested_action = constants.E_REQUESTED_ACTION_DIRECT_DEBITING
    recipient = avp(1201, [avp(899, 1, TGPP), avp(897, client.args.called, TGPP)], TGPP)  # Recipient-Address
    msg.append_avp(avp(873, [avp(2000, [recipient], TGPP)], TGPP))  # Service-Information.SMS-Information
    msg.append_avp(avp(437, [avp(417, 1)]))  # Requested-Service-Unit.CC-Service-Specific-Units
    client.send(msg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("service", choices=sorted(CONTEXTS))
    parser.add_argument("--address", default="127.0.0.1", help="the OCS's IP address")
    parser.add_argument("--port", type=int, default=3868)
    parser.add_argument("--peer", default="ocs.cgrates.org", help="the OCS's Origin-Host")
    parser.add_argument("--realm", default="cgrates.org", help="the OCS's realm (our Destination-Realm)")
    parser.add_argument("--origin-host", default="pcef.example.net")
    parser.add_argument("--origin-realm", default="example.net")
    parser.add_argument("--subscriber", "--caller", default="491701234567", help="MSISDN (END_USER_E164)")
    parser.add_argument("--called", default="491709876543")
    parser.add_argument("--apn", default="internet")
    parser.add_argument("--rating-group", type=int, default=1)
    parser.add_argument("--request", type=int, default=300, help="voice: seconds asked in each CCR-I/U")
    parser.add_argument("--used", default="", help="comma-separated usage reports (seconds or octets)")
    args = parser.parse_args(argv)
    used = [int(u) for u in args.used.split(",") if u.strip()]
    with Client(args) as client:
        {"voice": voice, "data": data, "sms": sms}[args.service](client, used)
    return 0


if __name__ == "__main__":
    sys.exit(main())
