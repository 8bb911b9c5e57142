// Which IP addresses a webhook may connect to: public unicast only. Built on net.BlockList over the
// IANA special-purpose registries, plus the IPv6 forms that embed an IPv4 address (mapped, NAT64,
// 6to4), which are judged by the IPv4 address they carry.
import { BlockList, isIPv4, isIPv6 } from 'node:net';

const V4_SPECIAL: [string, number][] = [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // CGNAT, RFC 6598
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast 255.255.255.255
];

const v4Blocked = new BlockList();
for (const [net, prefix] of V4_SPECIAL) v4Blocked.addSubnet(net, prefix, 'ipv4');

// IPv6: only global unicast (2000::/3) can be public; inside it, these are not.
const v6GlobalUnicast = new BlockList();
v6GlobalUnicast.addSubnet('2000::', 3, 'ipv6');
const v6Blocked = new BlockList();
v6Blocked.addSubnet('2001::', 23, 'ipv6'); // IETF protocol assignments: Teredo, ORCHID, benchmarking…
v6Blocked.addSubnet('2001:db8::', 32, 'ipv6'); // documentation
v6Blocked.addSubnet('3fff::', 20, 'ipv6'); // documentation (RFC 9637)

/** The 16 bytes of an IPv6 address (dotted IPv4 tail allowed, zone id ignored), or null. */
export function ipv6Bytes(address: string): Uint8Array | null {
  const text = address.split('%')[0] ?? '';
  if (!isIPv6(text)) return null;
  let groups: string[];
  const tail: number[] = [];
  let body = text;
  const lastColon = body.lastIndexOf(':');
  const maybeV4 = body.slice(lastColon + 1);
  if (isIPv4(maybeV4)) {
    tail.push(...maybeV4.split('.').map(Number));
    body = `${body.slice(0, lastColon + 1)}0:0`;
  }
  const halves = body.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  if (halves.length > 1) groups = [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  else groups = head;
  if (groups.length !== 8) return null;
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    bytes[i * 2] = v >> 8;
    bytes[i * 2 + 1] = v & 0xff;
  });
  if (tail.length === 4) bytes.set(tail, 12);
  return bytes;
}

const startsWith = (bytes: Uint8Array, prefix: number[]) => prefix.every((b, i) => bytes[i] === b);
const v4At = (bytes: Uint8Array, offset: number) => Array.from(bytes.slice(offset, offset + 4)).join('.');

/** The IPv4 address an IPv6 address stands for (IPv4-mapped, IPv4-compatible, NAT64, 6to4), or null. */
export function embeddedIpv4(bytes: Uint8Array): string | null {
  // ::ffff:a.b.c.d (mapped) and the deprecated ::a.b.c.d (compatible; :: and ::1 excluded by callers).
  if (startsWith(bytes, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) && ((bytes[10] === 0xff && bytes[11] === 0xff) || (bytes[10] === 0 && bytes[11] === 0))) {
    return v4At(bytes, 12);
  }
  // 64:ff9b::/96, the well-known NAT64 prefix (RFC 6052).
  if (startsWith(bytes, [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0])) return v4At(bytes, 12);
  // 2002::/16, 6to4: the IPv4 address is bytes 2–5.
  if (startsWith(bytes, [0x20, 0x02])) return v4At(bytes, 2);
  return null;
}

export type AddressVerdict = { ok: true } | { ok: false; reason: string };

/** Whether a webhook may connect to this literal address. */
export function checkAddress(address: string): AddressVerdict {
  if (isIPv4(address)) {
    return v4Blocked.check(address, 'ipv4') ? { ok: false, reason: `${address} is a private, loopback, link-local or reserved address` } : { ok: true };
  }
  const bytes = ipv6Bytes(address);
  if (!bytes) return { ok: false, reason: `${address} is not an IP address` };
  const allZeroButLast = startsWith(bytes, Array<number>(15).fill(0));
  if (!allZeroButLast) {
    const v4 = embeddedIpv4(bytes);
    if (v4 !== null) {
      const inner = checkAddress(v4);
      return inner.ok ? inner : { ok: false, reason: `${address} carries ${v4}, a private, loopback, link-local or reserved address` };
    }
  }
  const text = address.split('%')[0] ?? address;
  if (!v6GlobalUnicast.check(text, 'ipv6') || v6Blocked.check(text, 'ipv6')) {
    return { ok: false, reason: `${address} is not a public IPv6 address` };
  }
  return { ok: true };
}
