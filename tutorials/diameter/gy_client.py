#!/usr/bin/env python3
"""A Gy/Ro charging client for the tutorial: sends CCR-INITIAL, -UPDATE, -TERMINATION (or one CCR-EVENT) to the
OCS and prints each CCA. It plays the PCEF (data), the IMS node (voice) or the SMSC (SMS), with python-diameter
(pip install python-diameter) as its Diameter stack.

    .venv/bin/python tutorials/diameter/gy_client.py voice --caller 491701234567 --called 491709876543 --used 60,45
    .venv/bin/python tutorials/diameter/gy_client.py data --subscriber 491701234567 --used 1048576,524288
    .venv/bin/python tutorials/diameter/gy_client.py sms --caller 491701234567 --called 491709876543
    .venv/bin/python tutorials/diameter/gy_client.py voice --used 60,45 --hold 120

``--used`` lists what each report says was used: one CCR-UPDATE per item but the last, which goes in the
CCR-TERMINATION (seconds for voice, octets for data). ``--hold`` keeps the session open that many seconds before
the CCR-TERMINATION, as a call or a bearer that lasts: an Abort-Session-Request from the OCS ends it at once (ASA,
then CCR-TERMINATION, as a PCEF does), Ctrl-C ends it too. A CCR-INITIAL that is not granted (Result-Code other
than 2001) ends the run with exit status 1 and no CCR-TERMINATION: there is no session to end.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import sys
import threading
import time
import uuid

from diameter.message import constants
from diameter.message.avp import Avp
from diameter.message.commands import CreditControlRequest
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication

TGPP = 10415
CONTEXTS = {"voice": "32260@3gpp.org", "data": "32251@3gpp.org", "sms": "32274@3gpp.org"}
SUCCESS = 2001
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
        # python-diameter hands a request to the application only when its Destination-Realm is routed to it: the
        # OCS's ASR and RAR are addressed to our own realm
        self.node.add_application(self.app, [peer], realms=[args.origin_realm])
        self.session = f"{args.origin_host};{int(time.time())};{uuid.uuid4().hex[:8]}"
        self.number = 0
        self.aborted = threading.Event()  # set by the OCS's Abort-Session-Request

    def on_request(self, app, request):
        """An ASR or RAR from the OCS: acknowledge it. An ASR ends the held session (the CCR-TERMINATION follows);
        after a RAR a real PCEF would re-authorize with a CCR-UPDATE."""
        kind = {274: "ASR", 258: "RAR"}.get(request.header.command_code, str(request.header.command_code))
        print(f"<- {kind} for session {request.session_id}", flush=True)
        if request.header.command_code == 274:
            self.aborted.set()
        return app.generate_answer(request, constants.E_RESULT_CODE_DIAMETER_SUCCESS)

    def hold(self) -> None:
        """Keep the session open for --hold seconds, or until an ASR or Ctrl-C ends it."""
        if self.args.hold <= 0:
            return
        print(f"holding session {self.session} for {self.args.hold} s (an ASR or Ctrl-C ends it)", flush=True)
        try:
            self.aborted.wait(self.args.hold)
        except KeyboardInterrupt:
            pass

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
        # the OCS's ASR/RAR take their Origin-Host from it (the *asr and *rar templates, as in CGRateS)
        msg.destination_host = self.args.destination_host.encode()
        msg.auth_application_id = constants.APP_DIAMETER_CREDIT_CONTROL_APPLICATION
        msg.service_context_id = CONTEXTS[self.args.service]
        msg.cc_request_type = request_type
        msg.cc_request_number = self.number
        msg.event_timestamp = datetime.datetime.now(datetime.UTC)
        msg.append_avp(avp(443, [avp(450, 0), avp(444, self.args.subscriber)]))  # Subscription-Id, END_USER_E164
        self.number += 1
        return msg

    def send(self, msg: CreditControlRequest) -> int:
        """Send a CCR, print what its CCA says, return its Result-Code."""
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
        return code


def voice(client: Client, used: list[int]) -> int:
    def ims(msg, requested: int | None, spent: int | None):
        ims_info = avp(876, [avp(831, f"tel:+{client.args.subscriber}", TGPP),
                             avp(832, f"tel:+{client.args.called}", TGPP)], TGPP)
        msg.append_avp(avp(873, [ims_info], TGPP))  # Service-Information
        if requested is not None:
            msg.append_avp(avp(437, [avp(420, requested)]))  # Requested-Service-Unit.CC-Time
        if spent is not None:
            msg.append_avp(avp(446, [avp(420, spent)]))  # Used-Service-Unit.CC-Time
        return msg

    if client.send(ims(client.ccr(1), client.args.request, None)) != SUCCESS:
        return 1
    for spent in used[:-1]:
        client.send(ims(client.ccr(2), client.args.request, spent))
    client.hold()
    client.send(ims(client.ccr(3), None, used[-1] if used else 0))
    return 0


def data(client: Client, used: list[int]) -> int:
    def mscc(msg, spent: int | None, ask: bool = True):
        msg.called_station_id = client.args.apn
        items = [avp(432, client.args.rating_group)]  # Rating-Group
        if ask:
            items.append(avp(437, []))  # an empty Requested-Service-Unit: the OCS picks the quota
        if spent is not None:
            items.append(avp(446, [avp(421, spent)]))  # Used-Service-Unit.CC-Total-Octets
        msg.append_avp(avp(456, items))  # Multiple-Services-Credit-Control
        return msg

    if client.send(mscc(client.ccr(1), None)) != SUCCESS:
        return 1
    for spent in used[:-1]:
        client.send(mscc(client.ccr(2), spent))
    client.hold()
    client.send(mscc(client.ccr(3), used[-1] if used else 0, ask=False))
    return 0


def sms(client: Client, _used: list[int]) -> int:
    msg = client.ccr(4)
    msg.requested_action = constants.E_REQUESTED_ACTION_DIRECT_DEBITING
    recipient = avp(1201, [avp(899, 1, TGPP), avp(897, client.args.called, TGPP)], TGPP)  # Recipient-Address
    msg.append_avp(avp(873, [avp(2000, [recipient], TGPP)], TGPP))  # Service-Information.SMS-Information
    msg.append_avp(avp(437, [avp(417, 1)]))  # Requested-Service-Unit.CC-Service-Specific-Units
    return 0 if client.send(msg) == SUCCESS else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("service", choices=sorted(CONTEXTS))
    parser.add_argument("--address", default="127.0.0.1", help="the IP address of the OCS (or the relay)")
    parser.add_argument("--port", type=int, default=3868)
    parser.add_argument("--peer", default="ocs.cgrates.org",
                        help="the Diameter identity of the node we connect to: the OCS, or a relay in front of it")
    parser.add_argument("--destination-host", default="ocs.cgrates.org", help="the OCS's Origin-Host")
    parser.add_argument("--realm", default="cgrates.org", help="the OCS's realm (our Destination-Realm)")
    parser.add_argument("--origin-host", default="pcef.example.net")
    parser.add_argument("--origin-realm", default="example.net")
    parser.add_argument("--subscriber", "--caller", default="491701234567", help="MSISDN (END_USER_E164)")
    parser.add_argument("--called", default="491709876543")
    parser.add_argument("--apn", default="internet")
    parser.add_argument("--rating-group", type=int, default=1)
    parser.add_argument("--request", type=int, default=300, help="voice: seconds asked in each CCR-I/U")
    parser.add_argument("--used", default="", help="comma-separated usage reports (seconds or octets)")
    parser.add_argument("--hold", type=float, default=0,
                        help="voice, data: keep the session open this many seconds before the CCR-T (an ASR ends it)")
    args = parser.parse_args(argv)
    used = [int(u) for u in args.used.split(",") if u.strip()]
    logging.basicConfig(level=logging.ERROR)  # python-diameter's connection chatter stays out of the output
    with Client(args) as client:
        return {"voice": voice, "data": data, "sms": sms}[args.service](client, used)


if __name__ == "__main__":
    sys.exit(main())
