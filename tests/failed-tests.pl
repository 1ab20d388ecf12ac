#!/usr/bin/perl
# Prints each failed test of the given trx files: its name, its message and the first lines of its stack trace.
use strict; use warnings;
local $/;
for my $file (@ARGV) {
    open my $fh, '<', $file or next;
    my $xml = <$fh>;
    while ($xml =~ m{<UnitTestResult\b([^>]*[^/>])>(.*?)</UnitTestResult>}gs) {
        my ($attrs, $body) = ($1, $2);
        next unless $attrs =~ /outcome="Failed"/;
        my ($name) = $attrs =~ /testName="([^"]*)"/;
        my ($message) = $body =~ m{<Message>(.*?)</Message>}s;
        my ($stack) = $body =~ m{<StackTrace>(.*?)</StackTrace>}s;
        for ($name, $message, $stack) { next unless defined; s/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&apos;/'/g; s/&#xD;//g; s/&#xA;/\n/g; s/&amp;/&/g; }
        print "FAILED $name\n";
        print "  $_\n" for grep { length } split /\n/, substr($message // '', 0, 4000);
        my @frames = grep { length } split /\n/, ($stack // '');
        print "  $_\n" for @frames[0 .. ($#frames < 11 ? $#frames : 11)];
    }
}
