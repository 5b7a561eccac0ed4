package io.vduse.blk.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The NBD URI forms, and the malformed ones refused saying what is wrong. */
class NbdUriTest {

    @Test
    void tcpWithPortAndExport() {
        NbdUri uri = NbdUri.parse("nbd://storage.example:10900/vm%20disk");
        InetSocketAddress address = (InetSocketAddress) uri.address();
        assertThat(address.getHostString()).isEqualTo("storage.example");
        assertThat(address.getPort()).isEqualTo(10900);
        assertThat(uri.export()).isEqualTo("vm disk");
        assertThat(uri.server()).isEqualTo("storage.example:10900");
    }

    @Test
    void tcpDefaultsToPort10809AndTheDefaultExport() {
        NbdUri uri = NbdUri.parse("nbd://localhost");
        assertThat(((InetSocketAddress) uri.address()).getPort()).isEqualTo(10809);
        assertThat(uri.export()).isEmpty();
        assertThat(uri.exportText()).isEqualTo("'' (the default)");
        assertThat(NbdUri.parse("nbd://localhost/").export()).isEmpty();
    }

    @Test
    void ipv6Literal() {
        NbdUri uri = NbdUri.parse("nbd://[::1]:2000/x");
        assertThat(((InetSocketAddress) uri.address()).getHostString()).isEqualTo("::1");
        assertThat(uri.server()).isEqualTo("[::1]:2000");
    }

    @Test
    void unixSocket() {
        NbdUri uri = NbdUri.parse("nbd+unix:///disk?socket=/run/nbd.sock");
        assertThat(uri.address()).isEqualTo(UnixDomainSocketAddress.of(Path.of("/run/nbd.sock")));
        assertThat(uri.export()).isEqualTo("disk");
        assertThat(NbdUri.parse("nbd+unix://?socket=/s").export()).isEmpty();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "localhost:10809/disk | not a URI",
        "http://host/disk | unknown scheme 'http'",
        "nbds://host/disk | TLS",
        "nbd:///disk | no host",
        "nbd://host:0/disk | port must be 1 to 65535",
        "nbd://host:99999/disk | port must be 1 to 65535",
        "nbd://host:abc/disk | port must be 1 to 65535",
        "nbd://host/disk?socket=/x | takes no query",
        "nbd://[::1/disk | closing ']'",
        "nbd+unix:///disk | needs ?socket=PATH",
        "nbd+unix://host/disk?socket=/x | takes no host",
        "nbd+unix:///disk?sock=/x | unknown query parameter",
        "nbd://host/a%zz | percent-encoding",
    })
    void malformedFormsAreRefused(String text, String why) {
        assertThatThrownBy(() -> NbdUri.parse(text)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(why);
    }
}
