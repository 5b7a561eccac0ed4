package io.vduse.blk.nbd;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URLDecoder;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Where an NBD export is, parsed from the NBD URI forms (the NBD project's {@code doc/uri.md}):
 * {@code nbd://host[:port]/export} over TCP (port {@value Nbd#DEFAULT_PORT} by default, the export
 * name empty when there is no path) and {@code nbd+unix:///export?socket=PATH} over a Unix domain
 * socket. TLS ({@code nbds}) is not supported and is refused as such.
 *
 * @param address the server's socket address; an unresolved {@link InetSocketAddress} for TCP,
 *     resolved at each connect, so that a server that moves is found again
 * @param export the export name, percent-decoded (may be empty)
 * @param server the server as messages show it: {@code host:port} or the socket's path
 */
public record NbdUri(SocketAddress address, String export, String server) {

    /**
     * Parses {@code text}.
     *
     * @throws IllegalArgumentException saying what is wrong with it
     */
    public static NbdUri parse(String text) {
        int schemeEnd = text.indexOf("://");
        if (schemeEnd < 0) {
            throw bad(text, "not a URI: the forms are nbd://host[:port]/export and nbd+unix:///export?socket=PATH");
        }
        String scheme = text.substring(0, schemeEnd);
        String rest = text.substring(schemeEnd + 3);
        int querySep = rest.indexOf('?');
        String query = querySep < 0 ? null : rest.substring(querySep + 1);
        String authorityAndPath = querySep < 0 ? rest : rest.substring(0, querySep);
        int slash = authorityAndPath.indexOf('/');
        String authority = slash < 0 ? authorityAndPath : authorityAndPath.substring(0, slash);
        String export = slash < 0 ? "" : decode(text, authorityAndPath.substring(slash + 1));
        if (authorityAndPath.contains("#")) {
            throw bad(text, "a fragment (#) has no meaning here");
        }
        return switch (scheme) {
            case "nbd", "nbd+tcp" -> tcp(text, authority, export, query);
            case "nbd+unix" -> unix(text, authority, export, query);
            case "nbds", "nbds+tcp", "nbds+unix" -> throw bad(text, "TLS (" + scheme + ") is not supported");
            default -> throw bad(text, "unknown scheme '" + scheme + "': nbd:// or nbd+unix://");
        };
    }

    private static NbdUri tcp(String text, String authority, String export, String query) {
        if (query != null) {
            throw bad(text, "nbd:// takes no query ('" + query + "')");
        }
        if (authority.contains("@")) {
            throw bad(text, "user names are not supported");
        }
        String host;
        String portText = null;
        if (authority.startsWith("[")) {
            int close = authority.indexOf(']');
            if (close < 0) {
                throw bad(text, "an IPv6 address without its closing ']'");
            }
            host = authority.substring(1, close);
            String after = authority.substring(close + 1);
            if (!after.isEmpty()) {
                if (!after.startsWith(":")) {
                    throw bad(text, "expected ':port' after the IPv6 address");
                }
                portText = after.substring(1);
            }
        } else {
            int colon = authority.lastIndexOf(':');
            host = colon < 0 ? authority : authority.substring(0, colon);
            portText = colon < 0 ? null : authority.substring(colon + 1);
        }
        if (host.isEmpty()) {
            throw bad(text, "no host: nbd://host[:port]/export");
        }
        int port = Nbd.DEFAULT_PORT;
        if (portText != null) {
            try {
                port = Integer.parseInt(portText);
            } catch (NumberFormatException e) {
                port = -1;
            }
            if (port < 1 || port > 65535) {
                throw bad(text, "the port must be 1 to 65535: '" + portText + "'");
            }
        }
        String shown = (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        return new NbdUri(InetSocketAddress.createUnresolved(host, port), export, shown);
    }

    private static NbdUri unix(String text, String authority, String export, String query) {
        if (!authority.isEmpty()) {
            throw bad(text, "nbd+unix:// takes no host ('" + authority + "'): nbd+unix:///export?socket=PATH");
        }
        String socket = null;
        if (query != null) {
            for (String param : query.split("&")) {
                int eq = param.indexOf('=');
                String key = eq < 0 ? param : param.substring(0, eq);
                if (!key.equals("socket") || eq < 0) {
                    throw bad(text, "unknown query parameter '" + param + "': only socket=PATH");
                }
                socket = decode(text, param.substring(eq + 1));
            }
        }
        if (socket == null || socket.isEmpty()) {
            throw bad(text, "nbd+unix needs ?socket=PATH");
        }
        return new NbdUri(UnixDomainSocketAddress.of(Path.of(socket)), export, socket);
    }

    private static String decode(String text, String part) {
        try {
            // URLDecoder would turn '+' into a space, which a URI path does not mean.
            return URLDecoder.decode(part.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw bad(text, "bad percent-encoding in '" + part + "'");
        }
    }

    private static IllegalArgumentException bad(String text, String why) {
        return new IllegalArgumentException("'" + text + "': " + why);
    }

    /** The export as messages show it: {@code 'disk'}, or {@code '' (the default)}. */
    public String exportText() {
        return export.isEmpty() ? "'' (the default)" : "'" + export + "'";
    }
}
