"""Portside's answer to one parsed query (pure, given the zone): the records it holds, an
authoritative NXDOMAIN or NODATA within its zones, or None for a name that is not its own
(the server forwards those to the host's resolvers).

Negative answers carry the zone's SOA, whose minimum (and TTL) is `NEGATIVE_TTL`: a resolver
asks again within seconds, so a task's name is found soon after the task gets its address.
"""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from portside.dns.records import NEGATIVE_TTL, Record
from portside.dns.zone import Zone

OUR_PAYLOAD = 1232  # the EDNS payload we offer (the DNS flag day's safe size)
SOA_MNAME = "ns.portside.internal."
SOA_RNAME = "hostmaster.portside.internal."


def respond(query: dns.message.Message, zone: Zone) -> dns.message.Message | None:
    """The response to `query`, or None when its name is not Portside's (forward it)."""
    if query.opcode() != dns.opcode.QUERY:
        return error(query, dns.rcode.NOTIMP)
    if len(query.question) != 1:
        return error(query, dns.rcode.FORMERR)
    question = query.question[0]
    if question.rdclass != dns.rdataclass.IN:
        return None
    name = question.name.to_text().lower()
    node = zone.node(name)
    apex = zone.apex_of(name)
    if node is None and apex is None:
        return None
    response = _response(query)
    response.flags |= dns.flags.AA
    qtype = question.rdtype
    if node is not None:
        for type_name, records in sorted(node.rrsets.items()):
            if qtype in (dns.rdatatype.ANY, dns.rdatatype.from_text(type_name)):
                response.answer.append(_rrset(question.name, records))
    if apex is not None and qtype == dns.rdatatype.SOA and name == apex:
        response.answer.append(_soa(apex, zone.generation))
    if not response.answer:
        if node is None and not zone.exists(name):
            response.set_rcode(dns.rcode.NXDOMAIN)
        if apex is not None:
            response.authority.append(_soa(apex, zone.generation))
    return response


def error(query: dns.message.Message, rcode: dns.rcode.Rcode) -> dns.message.Message:
    response = _response(query)
    response.set_rcode(rcode)
    return response


def servfail(query: dns.message.Message) -> dns.message.Message:
    return error(query, dns.rcode.SERVFAIL)


def _response(query: dns.message.Message) -> dns.message.Message:
    response = dns.message.make_response(query, our_payload=OUR_PAYLOAD)
    response.flags |= dns.flags.RA  # what is not ours is resolved for the client
    return response


def _rrset(owner: dns.name.Name, records: tuple[Record, ...]) -> dns.rrset.RRset:
    rdtype = dns.rdatatype.from_text(records[0].type)
    rrset = dns.rrset.RRset(owner, dns.rdataclass.IN, rdtype)
    for record in records:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, record.value)
        rrset.add(rdata, min(r.ttl for r in records))
    return rrset


def _soa(apex: str, serial: int) -> dns.rrset.RRset:
    text = f"{SOA_MNAME} {SOA_RNAME} {serial % 2**32} 60 10 3600 {NEGATIVE_TTL}"
    return dns.rrset.from_text(apex, NEGATIVE_TTL, dns.rdataclass.IN, dns.rdatatype.SOA, text)
