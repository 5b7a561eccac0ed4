package io.vduse.dist;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.JarFile;
import java.util.zip.ZipEntry;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

/**
 * What a Maven Central user gets, checked on this build's output so that it cannot rot: every
 * published module has its main, sources and javadoc jar (the javadoc in module mode), every
 * entry of them carries the fixed {@code project.build.outputTimestamp}, the POMs carry the
 * metadata Central asks for (name, description, url, licence, developers, scm), the BOM lists
 * every published module at the project's version, and every module of the reactor is either
 * published or says it is not. Runs at {@code integration-test}, after the modules it checks.
 */
class ArtifactsIT {

    /** The modules published as jars; vduse-parent and vduse-bom are published as POMs. */
    static final List<String> PUBLISHED = List.of("vduse-api", "vduse-iova", "vduse-virtqueue", "vduse-core", "vduse-blk", "vduse-net");
    /** Built and tested with the project, never published. */
    static final List<String> UNPUBLISHED = List.of("vduse-examples", "vduse-bench", "vduse-it", "vduse-dist");

    private static final Path ROOT = Path.of(System.getProperty("vduse.root")).normalize();
    private static final String VERSION = System.getProperty("vduse.version");

    @Test
    void everyModuleOfTheReactorIsEitherPublishedOrSaysItIsNot() throws Exception {
        Element parent = pom(ROOT.resolve("pom.xml"));
        Set<String> modules = new TreeSet<>(texts(child(parent, "modules"), "module"));
        Set<String> known = new TreeSet<>(PUBLISHED);
        known.addAll(UNPUBLISHED);
        known.add("vduse-bom");
        assertThat(modules).as("a new module must be added to PUBLISHED or UNPUBLISHED here").isEqualTo(known);
        for (String module : UNPUBLISHED) {
            Element properties = child(pom(ROOT.resolve(module).resolve("pom.xml")), "properties");
            for (String skip : List.of("maven.deploy.skip", "maven.source.skip", "maven.javadoc.skip")) {
                assertThat(text(properties, skip)).as("%s in %s", skip, module).isEqualTo("true");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"vduse-api", "vduse-iova", "vduse-virtqueue", "vduse-core", "vduse-blk", "vduse-net"})
    void aPublishedModuleHasItsMainSourcesAndJavadocJars(String module) throws IOException {
        Path target = ROOT.resolve(module).resolve("target");
        Path main = target.resolve(module + "-" + VERSION + ".jar");
        Path sources = target.resolve(module + "-" + VERSION + "-sources.jar");
        Path javadoc = target.resolve(module + "-" + VERSION + "-javadoc.jar");
        for (Path jar : List.of(main, sources, javadoc)) {
            assertThat(jar).as("%s (built by this module's package phase)", jar.getFileName()).isRegularFile();
        }
        String jpms = moduleName(module);
        try (JarFile mainJar = new JarFile(main.toFile()); JarFile sourcesJar = new JarFile(sources.toFile());
                JarFile javadocJar = new JarFile(javadoc.toFile())) {
            assertThat(mainJar.getEntry("module-info.class")).as("module descriptor").isNotNull();
            assertThat(sourcesJar.getEntry("module-info.java")).isNotNull();
            // Every top-level class of the main jar has its source.
            List<String> missing = new ArrayList<>();
            Collections.list(mainJar.entries()).stream().map(ZipEntry::getName)
                    .filter(n -> n.endsWith(".class") && !n.contains("$") && !n.equals("module-info.class"))
                    .map(n -> n.substring(0, n.length() - ".class".length()) + ".java")
                    .filter(n -> sourcesJar.getEntry(n) == null).forEach(missing::add);
            assertThat(missing).as("classes without a source in %s", sources.getFileName()).isEmpty();
            // javadoc in module mode: the pages are under the module's name.
            assertThat(javadocJar.getEntry("index.html")).isNotNull();
            assertThat(javadocJar.getEntry(jpms + "/module-summary.html")).as("module mode").isNotNull();
            for (JarFile jar : List.of(mainJar, sourcesJar, javadocJar)) {
                assertThat(jar.getManifest()).as("%s has a manifest", jar.getName()).isNotNull();
                assertEveryEntryHasTheFixedTime(jar);
            }
        }
    }

    private static void assertEveryEntryHasTheFixedTime(JarFile jar) {
        // The zip's DOS time fields are local time without a zone; the archiver writes the
        // timestamp's UTC wall-clock time into them, whatever the machine's zone.
        LocalDateTime expected = LocalDateTime.ofInstant(Instant.parse(System.getProperty("vduse.outputTimestamp")), ZoneOffset.UTC);
        Map<String, LocalDateTime> wrong = new LinkedHashMap<>();
        Collections.list(jar.entries()).stream().filter(e -> !e.getTimeLocal().equals(expected)).limit(5)
                .forEach(e -> wrong.put(e.getName(), e.getTimeLocal()));
        assertThat(wrong).as("entries of %s not at %s", jar.getName(), expected).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"vduse-api", "vduse-iova", "vduse-virtqueue", "vduse-core", "vduse-blk", "vduse-net"})
    void aPublishedModulesPomInheritsTheMetadataAndNamesAndDescribesItself(String module) throws Exception {
        Element pom = pom(ROOT.resolve(module).resolve("pom.xml"));
        Element parent = child(pom, "parent");
        assertThat(text(parent, "artifactId")).isEqualTo("vduse-parent");
        assertThat(text(parent, "version")).isEqualTo(VERSION);
        assertThat(text(pom, "name")).isEqualTo(module);
        assertThat(text(pom, "description")).as("description of %s", module).hasSizeGreaterThan(20);
        for (String overridden : List.of("url", "licenses", "developers", "scm")) {
            assertThat(child(pom, overridden)).as("%s overrides the parent's %s", module, overridden).isNull();
        }
        Element properties = child(pom, "properties");
        if (properties != null) {
            assertThat(child(properties, "maven.deploy.skip")).as("deploy skipped in %s", module).isNull();
        }
    }

    @Test
    void theParentPomCarriesWhatMavenCentralAsksFor() throws Exception {
        Element parent = pom(ROOT.resolve("pom.xml"));
        assertThat(text(parent, "version")).isEqualTo(VERSION);
        assertThat(text(parent, "name")).isNotBlank();
        assertThat(text(parent, "description")).isNotBlank();
        assertThat(text(parent, "url")).isEqualTo("https://github.com/vduse-java/vduse-java");
        Element license = child(child(parent, "licenses"), "license");
        assertThat(text(license, "name")).isEqualTo("Apache-2.0");
        assertThat(text(license, "url")).isEqualTo("https://www.apache.org/licenses/LICENSE-2.0.txt");
        Element developer = child(child(parent, "developers"), "developer");
        assertThat(text(developer, "name")).isNotBlank();
        Element scm = child(parent, "scm");
        assertThat(text(scm, "connection")).startsWith("scm:git:https://github.com/vduse-java/vduse-java");
        assertThat(text(scm, "developerConnection")).startsWith("scm:git:");
        assertThat(text(scm, "url")).isEqualTo(text(parent, "url"));
        assertThat(text(child(parent, "properties"), "project.build.outputTimestamp"))
                .isEqualTo(System.getProperty("vduse.outputTimestamp"));
        String licence = Files.readString(ROOT.resolve("LICENSE"));
        assertThat(licence).contains("Apache License", "Version 2.0, January 2004");
    }

    @Test
    void theBomListsEveryPublishedModuleAtTheProjectVersionWithTheParentsMetadata() throws Exception {
        Element bom = pom(ROOT.resolve("vduse-bom/pom.xml"));
        Element parent = pom(ROOT.resolve("pom.xml"));
        assertThat(child(bom, "parent")).as("the BOM has no parent (see its pom)").isNull();
        assertThat(text(bom, "groupId")).isEqualTo("io.vduse");
        assertThat(text(bom, "version")).isEqualTo(VERSION);
        assertThat(text(bom, "packaging")).isEqualTo("pom");
        for (String same : List.of("url", "licenses", "developers", "scm", "issueManagement")) {
            assertThat(canonical(child(bom, same))).as("the BOM's %s", same).isEqualTo(canonical(child(parent, same)));
        }
        List<String> listed = new ArrayList<>();
        for (Element dependency : children(child(child(bom, "dependencyManagement"), "dependencies"), "dependency")) {
            assertThat(text(dependency, "groupId")).isEqualTo("io.vduse");
            assertThat(text(dependency, "version")).isEqualTo("${project.version}");
            assertThat(child(dependency, "scope")).isNull();
            listed.add(text(dependency, "artifactId"));
        }
        assertThat(listed).containsExactlyElementsOf(PUBLISHED);
    }

    private static String moduleName(String module) throws IOException {
        String info = Files.readString(ROOT.resolve(module).resolve("src/main/java/module-info.java"));
        var matcher = java.util.regex.Pattern.compile("(?m)^module\\s+([\\w.]+)").matcher(info);
        assertThat(matcher.find()).as("module declaration of %s", module).isTrue();
        return matcher.group(1);
    }

    private static Element pom(Path file) throws Exception {
        var factory = DocumentBuilderFactory.newInstance();
        factory.setNamespaceAware(false);
        return factory.newDocumentBuilder().parse(file.toFile()).getDocumentElement();
    }

    /** The direct child element called {@code name}, or null. */
    private static Element child(Element parent, String name) {
        List<Element> found = children(parent, name);
        return found.isEmpty() ? null : found.get(0);
    }

    private static List<Element> children(Element parent, String name) {
        List<Element> found = new ArrayList<>();
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals(name)) {
                found.add(e);
            }
        }
        return found;
    }

    private static String text(Element parent, String name) {
        Element e = child(parent, name);
        assertThat(e).as("<%s> in <%s>", name, parent.getTagName()).isNotNull();
        return e.getTextContent().trim();
    }

    private static List<String> texts(Element parent, String name) {
        return children(parent, name).stream().map(e -> e.getTextContent().trim()).toList();
    }

    /** An element's tags and texts with its layout and comments dropped, to compare two copies. */
    private static String canonical(Element element) {
        assertThat(element).isNotNull();
        StringBuilder out = new StringBuilder("<").append(element.getTagName()).append('>');
        boolean hasElements = false;
        for (Node n = element.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e) {
                out.append(canonical(e));
                hasElements = true;
            }
        }
        if (!hasElements) {
            out.append(element.getTextContent().trim());
        }
        return out.append("</").append(element.getTagName()).append('>').toString();
    }
}
