#!/bin/sh
# sql.t - the schema in sql/: the manual's psql examples verbatim, the
# documented columns of the views and arguments of the functions, each
# function at work and refusing bad input, the integrity triggers, the
# updated trigger, the name rules, pki's own tables.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck disable=SC1091
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup

PGOPTIONS='-c search_path=pki,dd,public'
export PGOPTIONS

# sql SQL: run it; stdout in $T/out, stderr in $T/err.
sql() {
	psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=terse -c "$1" >"$T/out" 2>"$T/err"
}
# sqlv VALUE SQL: run SQL, in which :'v' is VALUE as a quoted literal.
sqlv() {
	printf '%s\n' "$2" |
		psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=terse -v v="$1" >"$T/out" 2>"$T/err"
}
# val SQL: the result of SQL.
val() {
	psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"
}
out() { cat "$T/out"; }
err() { cat "$T/err"; }
# rejects DESCRIPTION SQL MESSAGE: SQL fails with an ERROR that is MESSAGE
# (a glob).
rejects() {
	nok "$1" sql "$2"
	like "$(err)" "ERROR:  $3" "$1: $3"
}
# rejectsv DESCRIPTION VALUE SQL MESSAGE: the same, with :'v' in SQL.
rejectsv() {
	nok "$1" sqlv "$2" "$3"
	like "$(err)" "ERROR:  $4" "$1: $4"
}

# ------------------------------------------------------------ fresh schema
is "$(val 'select count(*) from subjects')" "0" \
	"no Subjects rows after the migrations (pki-store makes the CA's)"
is "$(val 'select schemaversion, keysencrypted from revision')" "6|f" \
	"Revision: one row, version 6, keys not encrypted"
is "$(val "select string_agg(name || ' ' || port || ' ' || tlsaprefix, ',' order by id) from services")" \
	"https 443 _443._tcp.{}. 3600 IN TLSA 3 1 1,caldav 8443 _8443._tcp.{}. 3600 IN TLSA 3 1 1,imap 143 _143._tcp.{}. 3600 IN TLSA 3 1 1,submission 587 _587._tcp.{}. 3600 IN TLSA 3 1 1,smtp 25 _25._tcp.{}. 3600 IN TLSA 3 1 1" \
	"the services are seeded, with TLSA 3 1 1"
is "$(val "select extnamespace::regnamespace from pg_extension where extname = 'citext'")" \
	"dd" "citext lives in schema dd"

is "$(val "select string_agg(t.table_name || ':' || w.col, ',')
	from information_schema.tables t
	cross join (values ('id'), ('created'), ('updated'), ('remarks')) w(col)
	where t.table_schema = 'pki' and t.table_type = 'BASE TABLE'
	and not exists (select 1 from information_schema.columns c
		where c.table_schema = 'pki' and c.table_name = t.table_name
		and c.column_name = w.col)")" "" \
	"every table has the common columns id, created, updated, remarks"
is "$(val "select string_agg(table_name || '.' || column_name || ':' || domain_name, ',')
	from information_schema.columns where table_schema = 'pki'
	and column_name in ('created', 'updated')
	and domain_name is distinct from column_name")" "" \
	"created and updated use the domains dd.created and dd.updated"
is "$(val "select count(*) from information_schema.tables
	where table_schema = 'pki' and table_type = 'BASE TABLE'
	and table_name in ('revision', 'certificates', 'certinstances', 'certkeydata',
	'subjects', 'services', 'certificates_services', 'disthosts', 'jails',
	'places', 'targets', 'events', 'localca_settings')")" "13" \
	"the tables of serverPKI and pki exist"
is "$(val "select string_agg(c.relname, ',') from pg_class c
	where c.relnamespace = 'pki'::regnamespace and c.relkind = 'r'
	and not exists (select 1 from pg_trigger t where t.tgrelid = c.oid
	and t.tgfoid = 'pki.set_updated'::regproc)")" "" \
	"every table has the updated trigger"

# ------------------------------------------------------------ the manual, verbatim
# 4.2 and 5.4
out=$(PGOPTIONS='' psql -X -q -At -v ON_ERROR_STOP=1 -c "set search_path to pki,dd;" \
	-c "select * from add_cert('test.com', 'server', 'local', 'ec', false, 'www.test.com', NULL, NULL, NULL, NULL, NULL);" 2>&1)
is "$out" "(server,test.com,local,ec,f,,www.test.com,,,,,)" \
	"manual 4.2: add_cert test.com with altname"
# 4.3, the older call with 9 arguments and 'NULL' for the algorithm
out=$(PGOPTIONS='' psql -X -q -At -v ON_ERROR_STOP=1 -c "set search_path to pki,dd;" \
	-c "select * from add_cert('martin-frankowski.de.zone', 'server', 'LE', 'NULL', NULL, NULL, NULL, NULL, NULL);" 2>&1)
is "$out" "(server,martin-frankowski.de.zone,LE,rsa,f,,,,,,,)" \
	"manual 4.3: add_cert with 9 arguments, 'NULL' algorithm is rsa"
is "$(val 'select "Subject", "Cert Name", "Type", algo, omsp_ms, "Alt Name" from certs')" \
	"server|martin-frankowski.de.zone|LE|rsa|f|
server|test.com|local|ec|f|www.test.com" "select * from certs shows both"

# 6.1.1 and 6.1.2; the disthost gets id 19 as in the manual.
val "select setval('disthosts_id_seq', 18)" >/dev/null
m() {
	PGOPTIONS='' psql -X -At -v ON_ERROR_STOP=1 -c "set search_path to pki,dd;" -c "$1" 2>&1
}
is "$(m "INSERT INTO disthosts (fqdn, jailroot) values('host-with-jails.on.domain', '/usr/jails');")" \
	"SET
INSERT 0 1" "manual 6.1.1: insert a disthost with jailroot"
is "$(m "INSERT INTO disthosts (fqdn) values('host-without-jails.on.domain');")" \
	"SET
INSERT 0 1" "manual 6.1.1: insert a disthost without jailroot"
is "$(m "SELECT id, fqdn, jailroot FROM disthosts WHERE fqdn = 'host-with-jails.on.domain';")" \
	"SET
19|host-with-jails.on.domain|/usr/jails" "manual 6.1.2: the disthost has id 19"
is "$(m "INSERT INTO jails (name, disthost) VALUES('my_service_jail', 19);")" \
	"SET
INSERT 0 1" "manual 6.1.2: insert a jail"
rejects "a jail on a disthost without jailroot" \
	"INSERT INTO jails (name, disthost) SELECT 'other_jail', id FROM disthosts WHERE fqdn = 'host-without-jails.on.domain'" \
	'?Jail "other_jail": disthost "host-without-jails.on.domain" has no jailroot*'
rejects "a disthost keeps its jailroot while jails exist" \
	"UPDATE disthosts SET jailroot = NULL WHERE id = 19" \
	'?Disthost "host-with-jails.on.domain" needs its jailroot: jails my_service_jail sit on it'
rejects "an empty jailroot counts as none" \
	"UPDATE disthosts SET jailroot = '' WHERE id = 19" \
	'?Disthost "host-with-jails.on.domain" needs its jailroot*'
is "$(m "DELETE FROM jails WHERE name = 'my_service_jail';")" \
	"SET
DELETE 1" "manual 6.1.2: delete the jail"
is "$(m "DELETE FROM disthosts WHERE fqdn in ('host-with-jails.on.domain', 'host-without-jails.on.domain');")" \
	"SET
DELETE 2" "manual 6.1.1: delete both disthosts"

# ------------------------------------------------------------ documented columns
cols() {
	val "select string_agg(column_name, ',' order by ordinal_position)
		from information_schema.columns
		where table_schema = 'pki' and table_name = '$1'"
}
is "$(cols certs)" \
	"Subject,Cert Name,Type,algo,omsp_ms,authorized,Alt Name,TLSA,Port,Dist Host,Jail,Place" \
	"view certs has the manual's columns"
is "$(cols certs_ids)" \
	"c_id,sl_id,Subject Type,Cert Name,Type,algo,omsp_ms,authorized,s2_id,Alt Name,s_id,TLSA,Port,t_id,d_id,FQDN,j_id,Jail,p_id,Place" \
	"view certs_ids has the manual's columns"
is "$(cols inst)" \
	"id,name,type,state,cacert,ocsplustaple,not_before,not_after,encryption_algo,hash,updated" \
	"view inst has the manual's columns"

args() {
	val "select pg_get_function_arguments('pki.$1'::regproc)"
}
is "$(args add_cert)" \
	"the_name citext, the_subject_type subject_type, the_cert_type cert_type, the_encryption_algo text, must_staple boolean, the_altname citext, the_tlsa_name citext, the_tlsa_port port_number, the_disthost_name citext, the_jail citext DEFAULT NULL::citext, the_place citext DEFAULT NULL::citext" \
	"add_cert has the manual's arguments"
is "$(args remove_cert)" "the_cert_name citext" "remove_cert(the_cert_name)"
is "$(args add_altname)" "the_cert_name citext, the_altname citext" \
	"add_altname(the_cert_name, the_altname)"
is "$(args remove_altname)" "the_altname citext" "remove_altname(the_altname)"
is "$(args add_service)" \
	"the_cert_name citext, the_service_name citext, the_port port_number" \
	"add_service(the_cert_name, the_service_name, the_port)"
is "$(args remove_service)" \
	"the_cert_name citext, the_service_name citext, the_port port_number" \
	"remove_service(the_cert_name, the_service_name, the_port)"
like "$(args add_target)" \
	"the_name citext, the_disthost_name citext, the_jail citext*, the_place citext*" \
	"add_target(the_name, the_disthost_name, the_jail, the_place)"
like "$(args remove_target)" \
	"the_cert_name citext, the_disthost_name citext, the_jail citext*, the_place citext*" \
	"remove_target(the_cert_name, the_disthost_name, the_jail, the_place)"

# ------------------------------------------------------------ fixtures
ok "disthosts, jails and places for the targets" sql "
	INSERT INTO disthosts (fqdn, jailroot) VALUES ('web.example', '/usr/jails'),
		('jails2.example', '/jails');
	INSERT INTO disthosts (fqdn) VALUES ('plain.example');
	INSERT INTO jails (name, disthost) SELECT 'www_jail', id FROM disthosts WHERE fqdn = 'web.example';
	INSERT INTO jails (name, disthost) SELECT 'other_jail', id FROM disthosts WHERE fqdn = 'jails2.example';
	INSERT INTO places (name, cert_path, reload_command) VALUES ('nginx', '/etc/ssl/{}', 'service nginx reload'),
		('postfix', '/etc/postfix/ssl', NULL)"

# ------------------------------------------------------------ add_cert
ok "add_cert with every argument" sql \
	"select add_cert('shop.example', 'server', 'LE', 'rsa plus ec', true, 'www.shop.example', 'https', 443, 'web.example', 'www_jail', 'nginx')"
is "$(out)" "(server,shop.example,LE,rsa_plus_ec,t,,www.shop.example,https,443,web.example,www_jail,nginx)" \
	"it returns the certs row; 'rsa plus ec' is rsa_plus_ec"
ok "add_cert accepts rsa_plus_ec and a CA name with a space" sql \
	"select add_cert('Local CA', 'CA', 'local', 'rsa_plus_ec', NULL, NULL, NULL, NULL, NULL)"
is "$(out)" "(CA,\"Local CA\",local,rsa_plus_ec,f,,,,,,,)" "a CA certificate"
ok "add_cert of a client certificate" sql \
	"select add_cert('Martin Frankowski', 'client', 'local', 'rsa', false, NULL, NULL, NULL, NULL)"

ncerts=$(val 'select count(*) from certificates')
rejects "add_cert: empty name" \
	"select add_cert('', 'server', 'local', 'rsa', false, NULL, NULL, NULL, NULL)" \
	'?add_cert: the_name (subject name) must not be empty'
rejects "add_cert: NULL name" \
	"select add_cert(NULL, 'server', 'local', 'rsa', false, NULL, NULL, NULL, NULL)" \
	'?add_cert: the_name (subject name) must not be empty'
rejects "add_cert: NULL subject type" \
	"select add_cert('x.example', NULL, 'local', 'rsa', false, NULL, NULL, NULL, NULL)" \
	'?add_cert: the_subject_type must not be empty*'
rejects "add_cert: NULL cert type" \
	"select add_cert('x.example', 'server', NULL, 'rsa', false, NULL, NULL, NULL, NULL)" \
	'?add_cert: the_cert_type must not be empty*'
rejects "add_cert: unknown subject type" \
	"select add_cert('x.example', 'robot', 'local', 'rsa', false, NULL, NULL, NULL, NULL)" \
	'invalid input value for enum subject_type: "robot"*'
rejects "add_cert: unknown algorithm" \
	"select add_cert('x.example', 'server', 'local', 'dsa', false, NULL, NULL, NULL, NULL)" \
	'?Encryption algorithm "dsa" unknown: use rsa, ec or rsa_plus_ec'
rejects "add_cert: the name is taken" \
	"select add_cert('TEST.com', 'server', 'local', 'rsa', false, NULL, NULL, NULL, NULL)" \
	'?"TEST.com" is already in use as a subject name'
rejects "add_cert: the name is an altname" \
	"select add_cert('www.test.com', 'server', 'local', 'rsa', false, NULL, NULL, NULL, NULL)" \
	'?"www.test.com" is already in use as altname of certificate "test.com"'
rejects "add_cert: the altname is taken" \
	"select add_cert('x.example', 'server', 'local', 'rsa', false, 'www.shop.example', NULL, NULL, NULL)" \
	'?"www.shop.example" is already in use as altname of certificate "shop.example"'
rejects "add_cert: the altname is the name" \
	"select add_cert('x.example', 'server', 'local', 'rsa', false, 'x.example', NULL, NULL, NULL)" \
	'?add_cert: the altname "x.example" is the subject name itself'
rejects "add_cert: service without port" \
	"select add_cert('x.example', 'server', 'local', 'rsa', false, NULL, 'https', NULL, NULL)" \
	'?add_cert: give both the_tlsa_name and the_tlsa_port, or neither'
rejects "add_cert: unknown service" \
	"select add_cert('x.example', 'server', 'local', 'rsa', false, NULL, 'https', 444, NULL)" \
	'?No service "https" with port 444'
rejects "add_cert: port out of range" \
	"select add_cert('x.example', 'server', 'local', 'rsa', false, NULL, 'https', 65536, NULL)" \
	'value for domain port_number violates check constraint*'
rejects "add_cert: unknown disthost" \
	"select add_cert('x.example', 'server', 'local', 'rsa', false, NULL, NULL, NULL, 'nowhere.example')" \
	'?No disthost "nowhere.example"'
rejects "add_cert: unknown jail" \
	"select add_cert('x.example', 'server', 'local', 'rsa', false, NULL, NULL, NULL, 'web.example', 'no_jail')" \
	'?No jail "no_jail"'
rejects "add_cert: unknown place" \
	"select add_cert('x.example', 'server', 'local', 'rsa', false, NULL, NULL, NULL, 'web.example', NULL, 'noplace')" \
	'?No place "noplace"'
rejects "add_cert: jail without disthost" \
	"select add_cert('x.example', 'server', 'local', 'rsa', false, NULL, NULL, NULL, NULL, 'www_jail')" \
	'?add_cert: a jail or place needs the_disthost_name'
rejects "add_cert: jail on another disthost" \
	"select add_cert('x.example', 'server', 'local', 'rsa', false, NULL, NULL, NULL, 'plain.example', 'www_jail')" \
	'?Target: jail "www_jail" sits on disthost "web.example", not on "plain.example"'
rejectsv "add_cert: SQL in the name" "'; DROP TABLE certificates; --" \
	"select add_cert(:'v', 'server', 'local', 'rsa', false, NULL, NULL, NULL, NULL)" \
	"?Subject name \"'; DROP TABLE certificates; --\": character other than letter, digit, hyphen or dot"
rejects "add_cert: bad altname" \
	"select add_cert('x.example', 'server', 'local', 'rsa', false, 'a..b', NULL, NULL, NULL)" \
	'?Subject name "a..b": empty label'
is "$(val 'select count(*) from certificates')" "$ncerts" \
	"a refused add_cert leaves nothing behind"

# ------------------------------------------------------------ altnames
ok "add_altname" sql "select add_altname('test.com', 'mail.test.com')"
is "$(val "select string_agg(\"Alt Name\", ',' order by \"Alt Name\") from certs where \"Cert Name\" = 'test.com'")" \
	"mail.test.com,www.test.com" "test.com has two altnames"
is "$(val "select type from subjects where name = 'mail.test.com'")" "server" \
	"the altname has the certificate's subject type"
rejects "add_altname: taken" "select add_altname('test.com', 'www.shop.example')" \
	'?"www.shop.example" is already in use as altname of certificate "shop.example"'
rejects "add_altname: a subject name" "select add_altname('test.com', 'shop.example')" \
	'?"shop.example" is already in use as a subject name'
rejects "add_altname: unknown certificate" "select add_altname('nope.example', 'x.nope.example')" \
	'?No certificate named "nope.example"'
rejects "add_altname: an altname is no certificate name" \
	"select add_altname('www.test.com', 'x.test.com')" \
	'?"www.test.com" is an altname of certificate "test.com", not a certificate name'
rejects "add_altname: empty certificate name" "select add_altname('', 'x.test.com')" \
	'?The certificate name must not be empty'
rejects "add_altname: empty altname" "select add_altname('test.com', NULL)" \
	'?add_altname: the_altname must not be empty'
rejects "add_altname: bad name" "select add_altname('test.com', '\$(reboot)')" \
	"?Subject name \"\$(reboot)\": character other than letter, digit, hyphen or dot"
rejects "add_altname: an altname is a host name even on a client certificate" \
	"select add_altname('Martin Frankowski', 'Martin F')" \
	'?Subject name "Martin F": character other than letter, digit, hyphen or dot'
ok "add_altname: a wildcard" sql "select add_altname('test.com', '*.test.com')"
ok "remove_altname" sql "select remove_altname('*.TEST.com')"
is "$(val "select count(*) from subjects where name = '*.test.com'")" "0" "the altname is gone"
rejects "remove_altname: no such altname" "select remove_altname('*.test.com')" \
	'?No altname "*.test.com"'
rejects "remove_altname: a subject name" "select remove_altname('test.com')" \
	'?"test.com" is the subject name of a certificate, not an altname*'
rejects "remove_altname: empty" "select remove_altname('')" \
	'?remove_altname: the_altname must not be empty'

# ------------------------------------------------------------ services
ok "add_service" sql "select add_service('test.com', 'smtp', 25)"
is "$(val "select \"TLSA\" || ' ' || \"Port\" from certs where \"Cert Name\" = 'test.com' limit 1")" \
	"smtp 25" "test.com has the service"
rejects "add_service: twice" "select add_service('test.com', 'SMTP', 25)" \
	'?Certificate "test.com" already has service "SMTP" port 25'
rejects "add_service: unknown service" "select add_service('test.com', 'smtp', 26)" \
	'?No service "smtp" with port 26'
rejects "add_service: unknown certificate" "select add_service('nope.example', 'smtp', 25)" \
	'?No certificate named "nope.example"'
rejects "add_service: empty service" "select add_service('test.com', '', 25)" \
	'?The service name and port must not be empty'
rejects "add_service: NULL port" "select add_service('test.com', 'smtp', NULL)" \
	'?The service name and port must not be empty'
ok "remove_service" sql "select remove_service('test.com', 'smtp', 25)"
is "$(val "select count(*) from certs where \"Cert Name\" = 'test.com' and \"TLSA\" is not null")" \
	"0" "the service is gone"
rejects "remove_service: not there" "select remove_service('test.com', 'smtp', 25)" \
	'?Certificate "test.com" has no service "smtp" port 25'
rejects "remove_service: unknown service" "select remove_service('test.com', 'gopher', 70)" \
	'?No service "gopher" with port 70'

# ------------------------------------------------------------ targets
ok "add_target without jail and place" sql "select add_target('test.com', 'plain.example', NULL, NULL)"
is "$(out)" "(server,test.com,local,ec,f,,mail.test.com,,,plain.example,,)" \
	"it returns the target's certs row"
ok "add_target with jail and place" sql "select add_target('test.com', 'web.example', 'www_jail', 'nginx')"
is "$(out)" "(server,test.com,local,ec,f,,mail.test.com,,,web.example,www_jail,nginx)" \
	"it returns that target's certs row"
ok "add_target with place only, jail and place defaulted" sql \
	"select add_target('test.com', 'jails2.example', NULL, 'postfix'); select add_target('test.com', 'web.example')"
rejects "add_target: twice without jail and place" \
	"select add_target('test.com', 'plain.example', NULL, NULL)" \
	'?Certificate "test.com" already has the target disthost "plain.example"'
rejects "add_target: twice with jail and place" \
	"select add_target('test.com', 'web.example', 'www_jail', 'nginx')" \
	'?Certificate "test.com" already has the target disthost "web.example", jail "www_jail", place "nginx"'
rejects "add_target: the jail is on another disthost" \
	"select add_target('test.com', 'jails2.example', 'www_jail', NULL)" \
	'?Target: jail "www_jail" sits on disthost "web.example", not on "jails2.example"'
rejects "add_target: unknown certificate" "select add_target('nope.example', 'web.example', NULL, NULL)" \
	'?No certificate named "nope.example"'
rejects "add_target: unknown disthost" "select add_target('test.com', 'nowhere.example', NULL, NULL)" \
	'?No disthost "nowhere.example"'
rejects "add_target: empty disthost" "select add_target('test.com', NULL, NULL, NULL)" \
	'?add_target: the_disthost_name must not be empty'
rejects "add_target: unknown jail" "select add_target('test.com', 'web.example', 'no_jail', NULL)" \
	'?No jail "no_jail"'
rejects "add_target: unknown place" "select add_target('test.com', 'web.example', NULL, 'noplace')" \
	'?No place "noplace"'
is "$(val "select count(*) from targets t join certs_ids c on c.t_id = t.id where c.\"Cert Name\" = 'test.com' and c.\"Alt Name\" = 'www.test.com'")" \
	"4" "test.com has four targets"
ok "remove_target without jail and place" sql "select remove_target('test.com', 'plain.example', NULL, NULL)"
ok "remove_target with jail and place" sql "select remove_target('test.com', 'web.example', 'www_jail', 'nginx')"
ok "remove_target with place only" sql "select remove_target('test.com', 'jails2.example', NULL, 'postfix')"
is "$(val "select string_agg(d.fqdn || '/' || coalesce(j.name, '-') || '/' || coalesce(p.name, '-'), ',' order by t.id)
	from targets t join disthosts d on d.id = t.disthost left join jails j on j.id = t.jail
	left join places p on p.id = t.place")" \
	"web.example/www_jail/nginx,web.example/-/-" \
	"each removed exactly the target it named"
rejects "remove_target: not there" "select remove_target('test.com', 'plain.example', NULL, NULL)" \
	'?Certificate "test.com" has no target disthost "plain.example"'
rejects "remove_target: not there, with jail" "select remove_target('test.com', 'web.example', 'www_jail', NULL)" \
	'?Certificate "test.com" has no target disthost "web.example", jail "www_jail"'
rejects "remove_target: unknown disthost" "select remove_target('test.com', 'nowhere.example', NULL, NULL)" \
	'?No disthost "nowhere.example"'
rejects "remove_target: unknown place" "select remove_target('test.com', 'web.example', NULL, 'noplace')" \
	'?No place "noplace"'
rejects "remove_target: empty certificate name" "select remove_target(NULL, 'web.example', NULL, NULL)" \
	'?The certificate name must not be empty'

# ------------------------------------------------------------ integrity triggers
rejects "the certificate's own subject cannot be deleted" \
	"delete from subjects where name = 'test.com'" \
	'?Subject "test.com" is the name of a certificate: remove the certificate (remove_cert) instead'
ok "an altname can be deleted directly" sql "delete from subjects where name = 'mail.test.com'"
rejects "one non-altname subject per certificate" \
	"insert into subjects (name, isaltname, certificate) select 'second.test.com', false, certificate from subjects where name = 'test.com'" \
	'?Subject "second.test.com": certificate * already has the subject name "test.com"*'
rejects "a subject does not move to another certificate" \
	"update subjects set certificate = (select certificate from subjects where name = 'shop.example') where name = 'www.test.com'" \
	'?Subject "www.test.com": its certificate and isAltname cannot change*'
rejects "an altname does not become the subject name" \
	"update subjects set isaltname = false where name = 'www.test.com'" \
	'?Subject "www.test.com": its certificate and isAltname cannot change*'
rejects "a target's jail sits on the target's own disthost (serverPKI checked only that the disthost has some jail)" \
	"insert into targets (disthost, jail, certificate) select d.id, j.id, s.certificate
		from disthosts d, jails j, subjects s
		where d.fqdn = 'jails2.example' and j.name = 'www_jail' and s.name = 'test.com'" \
	'?Target: jail "www_jail" sits on disthost "web.example", not on "jails2.example"'
rejects "a jail with targets does not move" \
	"update jails set disthost = (select id from disthosts where fqdn = 'jails2.example') where name = 'www_jail'" \
	'?Jail "www_jail" is used by targets: it cannot move to disthost "jails2.example"'
ok "a jail without targets moves" sql \
	"update jails set disthost = (select id from disthosts where fqdn = 'web.example') where name = 'other_jail'"

# ------------------------------------------------------------ updated
is "$(val "select updated is null from places where name = 'nginx'")" "t" \
	"a new row has no updated time"
ok "update a place" sql "update places set reload_command = 'nginx -s reload' where name = 'nginx'"
is "$(val "select updated is not null and updated >= created from places where name = 'nginx'")" "t" \
	"the updated trigger sets Places.updated (serverPKI put it on Jails)"
is "$(val "select count(*) from jails where updated is not null and name = 'www_jail'")" "0" \
	"and leaves Jails alone"
ok "update a certificate" sql "update certificates set disabled = true where id = (select certificate from subjects where name = 'shop.example')"
is "$(val "select updated is not null from certificates where id = (select certificate from subjects where name = 'shop.example')")" \
	"t" "the updated trigger sets Certificates.updated"

# ------------------------------------------------------------ instances
ok "a CA instance that refers to itself, and a leaf with two algorithms" sql "
	with n as (select nextval('certinstances_id_seq') as id)
	insert into certinstances (id, certificate, state, cacert, not_before, not_after)
		select n.id, s.certificate, 'issued', n.id, '2024-01-01', '2034-01-01'
		from n, subjects s where s.name = 'Local CA';
	insert into certkeydata (certinstance, encryption_algo, cert, key, hash)
		values (currval('certinstances_id_seq'), 'rsa', 'CA CERT', 'CA KEY', 'AA01');
	insert into certinstances (certificate, state, cacert, not_before, not_after)
		select s.certificate, 'issued', i.id, '2025-01-01', '2026-01-01'
		from subjects s, inst i where s.name = 'test.com' and i.name = 'Local CA';
	insert into certkeydata (certinstance, encryption_algo, cert, key, hash)
		values (currval('certinstances_id_seq'), 'rsa', 'C1', 'K1', 'BB01'),
		       (currval('certinstances_id_seq'), 'ec', 'C2', 'K2', 'BB02')"
is "$(val "select string_agg(encryption_algo || ':' || hash || ':' || state || ':' || (cacert = (select id from inst where name = 'Local CA')), ',') from inst where name = 'test.com'")" \
	"rsa:BB01:issued:true,ec:BB02:issued:true" "inst: one row per algorithm of an instance"
is "$(val "select count(*) from inst where name = 'Local CA'")" "1" "inst: the CA instance once"
ok "an instance without cert/key data yet" sql "
	insert into certinstances (certificate, state, cacert)
		select s.certificate, 'reserved', i.id from subjects s, inst i
		where s.name = 'shop.example' and i.name = 'Local CA'"
is "$(val "select state || ':' || coalesce(encryption_algo::text, '-') from inst where name = 'shop.example'")" \
	"reserved:-" "inst shows it once, without algorithm"
rejects "one cert/key per instance and algorithm" \
	"insert into certkeydata (certinstance, encryption_algo, cert, key, hash)
		select id, 'ec', 'C3', 'K3', 'BB03' from inst where name = 'test.com' limit 1" \
	'duplicate key value violates unique constraint "certkeydata_certinstance_encryption_algo_key"'
rejects "hashes are unique" \
	"insert into certkeydata (certinstance, encryption_algo, cert, key, hash)
		select id, 'rsa', 'C3', 'K3', 'BB01' from inst where name = 'shop.example'" \
	'duplicate key value violates unique constraint "certkeydata_hash_key"'
rejects "CAcert must exist (checked at commit)" \
	"insert into certinstances (certificate, state, cacert)
		select certificate, 'issued', 99999 from subjects where name = 'test.com'" \
	'insert or update on table "certinstances" violates foreign key constraint*'
rejects "remove_cert of a CA that issued other certificates' instances" \
	"select remove_cert('Local CA')" \
	'?Certificate "Local CA" is the CA of 2 instance(s) of other certificates: remove those first'
rejects "remove_cert: an altname" "select remove_cert('www.test.com')" \
	'?"www.test.com" is an altname of certificate "test.com", not a certificate name'
rejects "remove_cert: unknown" "select remove_cert('nope.example')" \
	'?No certificate named "nope.example"'
rejects "remove_cert: empty" "select remove_cert('')" \
	'?The certificate name must not be empty'

# ------------------------------------------------------------ events, local CA settings
ok "log an event about test.com" sql "
	insert into events (certificate, instance, name, stage, level, message)
		select i.id, i.id, 'test.com', 'pki-store', 'info', 'stored'
		from inst i where i.name = 'test.com' limit 1"
rejects "events: level is info, warning or error" \
	"insert into events (stage, level, message) values ('pki', 'debug', 'x')" \
	'new row for relation "events" violates check constraint "events_level_check"*'
rejects "events: stage is required" \
	"insert into events (level, message) values ('info', 'x')" \
	'null value in column "stage" of relation "events" violates not-null constraint*'
is "$(val "select string_agg(indexname, ',' order by indexname) from pg_indexes where schemaname = 'pki' and tablename = 'events'")" \
	"events_certificate_created,events_created,events_pkey" "events are indexed by certificate and time"
is "$(val "select subject_name, ca_dn, ca_algo, ca_rsa_bits, ca_ec_curve, ca_days, leaf_days, backdate_seconds from localca_settings")" \
	"Local CA|CN=Local CA|rsa|4096|P-384|3680|375|3600" "localca_settings: one row with the defaults"
rejects "localca_settings: a single row" "insert into localca_settings (id) values (2)" \
	'new row for relation "localca_settings" violates check constraint "localca_settings_id_check"*'
rejects "localca_settings: ca_days at least 365" "update localca_settings set ca_days = 364" \
	'*violates check constraint "localca_settings_ca_days_check"*'
rejects "localca_settings: RSA bits" "update localca_settings set ca_rsa_bits = 1024" \
	'*violates check constraint "localca_settings_ca_rsa_bits_check"*'
rejects "localca_settings: EC curve" "update localca_settings set ca_ec_curve = 'P-521'" \
	'*violates check constraint "localca_settings_ca_ec_curve_check"*'
rejects "localca_settings: backdate at most a day" "update localca_settings set backdate_seconds = 86401" \
	'*violates check constraint "localca_settings_backdate_seconds_check"*'
ok "localca_settings: update" sql "update localca_settings set ca_algo = 'ec', leaf_days = 90"
is "$(val "select ca_algo || leaf_days || (updated is not null) from localca_settings")" "ec90true" \
	"localca_settings has the updated trigger"

# ------------------------------------------------------------ remove_cert
cert=$(val "select certificate from subjects where name = 'test.com'")
ok "remove_cert test.com" sql "select remove_cert('test.com')"
is "$(val "select (select count(*) from certificates where id = $cert) || ',' ||
	(select count(*) from subjects where certificate = $cert) || ',' ||
	(select count(*) from targets where certificate = $cert) || ',' ||
	(select count(*) from certinstances where certificate = $cert) || ',' ||
	(select count(*) from certkeydata where hash like 'BB%')")" "0,0,0,0,0" \
	"remove_cert removes its subjects, targets, instances and their cert/key data"
is "$(val "select count(*) from events where certificate is not null and name = 'test.com'")" "1" \
	"the event log keeps its entry"
is "$(val "select count(*) from inst where name = 'Local CA'")" "1" "the CA instance stays"
ok "remove_cert shop.example" sql "select remove_cert('shop.example')"
ok "remove_cert of the CA once nothing refers to it" sql "select remove_cert('Local CA')"
is "$(val "select count(*) from certinstances")" "0" "no instances left"

# ------------------------------------------------------------ names
l63=$(printf '%063d' 0 | tr 0 a)
l64=${l63}a
n253=$l63.$l63.$l63.$(printf '%061d' 0 | tr 0 b)
n254=$l63.$l63.$l63.$(printf '%062d' 0 | tr 0 b)

# NAME|TYPE|dd.name_problem(NAME, TYPE) or ok: the reasons are those of
# pki_subject_check() in common/name.c, word for word.
cat >"$T/names" <<EOF
test.com|server|ok
www.test.com|server|ok
martin-frankowski.de.zone|server|ok
host-with-jails.on.domain|server|ok
*.test.com|server|ok
xn--bcher-kva.example|server|ok
1.example|server|ok
$l63.example|server|ok
$n253|server|ok
Local CA|CA|ok
Lets Encrypt CA|CA|ok
Martin Frankowski|client|ok
admin@example.org|client|ok
R3_Intermediate-1.0|CA|ok
$l64|client|ok
'; DROP TABLE certificates; --|server|character other than letter, digit, hyphen or dot
\$(reboot)|server|character other than letter, digit, hyphen or dot
a b.test|server|character other than letter, digit, hyphen or dot
a..b|server|empty label
.a.test|server|empty label
a.test.|server|trailing dot
$l64.test|server|label longer than 63 characters
$n254|server|longer than 253 characters
-a.test|server|label starts or ends with a hyphen
a-.test|server|label starts or ends with a hyphen
a.*.test|server|wildcard only as the whole first label
*a.test|server|wildcard only as the whole first label
*.|server|empty label
tëst.example|server|character other than letter, digit, hyphen or dot
a_b.test|reserved|character other than letter, digit, hyphen or dot
|server|empty name
|client|empty name
 Local CA|CA|does not start with a letter or digit
-x|client|does not start with a letter or digit
\$(reboot)|client|does not start with a letter or digit
x\$(reboot)|client|character other than letter, digit, space, dot, underscore, at or hyphen
'; DROP TABLE certificates; --|CA|does not start with a letter or digit
x'; DROP TABLE certificates; --|CA|character other than letter, digit, space, dot, underscore, at or hyphen
${l64}a|client|longer than 64 characters
EOF
{
	echo "CREATE TEMP TABLE c (n serial, name text, type dd.subject_type, want text);"
	echo "COPY c (name, type, want) FROM STDIN WITH (DELIMITER '|');"
	cat "$T/names"
	echo '\.'
	echo "SELECT coalesce(dd.name_problem(name, type), 'ok') FROM c ORDER BY n;"
} | psql -X -q -At -v ON_ERROR_STOP=1 >"$T/got"
paste -d '|' "$T/names" "$T/got" >"$T/cmp"
while IFS='|' read -r n type want got; do
	is "$got" "$want" "$type name \"$n\": $want"
done <"$T/cmp"
is "$(val "select coalesce(dd.host_name_problem('*.test.com', false), 'ok')")" \
	"wildcard not allowed here" "host_name_problem without wildcards"

for n in "'; DROP TABLE certificates; --" "\$(reboot)" 'a b.test' 'a..b' "$l64.test" "$n254"; do
	rejectsv "add_cert refuses the server name $n" "$n" \
		"select add_cert(:'v', 'server', 'local', 'rsa', false, NULL, NULL, NULL, NULL)" \
		"?Subject name \"$n\": *"
	rejectsv "a disthost FQDN $n is refused" "$n" \
		"insert into disthosts (fqdn) values (:'v')" "?Disthost FQDN \"$n\": *"
done
rejects "a wildcard disthost is refused" "insert into disthosts (fqdn) values ('*.wild.example')" \
	'?Disthost FQDN "*.wild.example": wildcard not allowed here'
rejects "a disthost FQDN cannot be changed to a bad one" \
	"update disthosts set fqdn = 'bad name' where fqdn = 'plain.example'" \
	'?Disthost FQDN "bad name": character other than letter, digit, hyphen or dot'
rejects "a subject cannot be renamed to a bad name" \
	"update subjects set name = 'a..b' where name = 'martin-frankowski.de.zone'" \
	'?Subject name "a..b": empty label'
ok "add_cert accepts a client name with a space" sql \
	"select add_cert('Jane Doe', 'client', 'local', 'ec', NULL, NULL, NULL, NULL, NULL)"
rejects "add_cert refuses a server name with a space" \
	"select add_cert('Jane Roe', 'server', 'local', 'ec', NULL, NULL, NULL, NULL, NULL)" \
	'?Subject name "Jane Roe": character other than letter, digit, hyphen or dot'
ok "add_cert of a wildcard server name" sql \
	"select add_cert('*.wild.example', 'server', 'LE', 'ec', NULL, NULL, NULL, NULL, NULL)"

for n in my_service_jail www.jail-1 J0; do
	ok "jail name $n is fine" sqlv "$n" \
		"insert into jails (name, disthost) select :'v', id from disthosts where fqdn = 'web.example'"
done
while IFS='|' read -r n why; do
	[ -n "$n" ] || continue
	rejectsv "jail name \"$n\" is refused" "$n" \
		"insert into jails (name, disthost) select :'v', id from disthosts where fqdn = 'web.example'" \
		"?Jail name \"$n\": $why"
done <<EOF
\$(reboot)|does not start with a letter or digit
a..b|contains ".."
../etc|does not start with a letter or digit
a/b|character other than letter, digit, dot, underscore or hyphen
a b|character other than letter, digit, dot, underscore or hyphen
_jail|does not start with a letter or digit
${l64}a|longer than 64 characters
EOF
rejects "an empty jail name is refused" \
	"insert into jails (name, disthost) select '', id from disthosts where fqdn = 'web.example'" \
	'?Jail name "": empty name'

# ------------------------------------------------------------ 100 names
ok "a certificate with 100 names" sql "
	select add_cert('many.test', 'server', 'local', 'ec', false, NULL, NULL,
		NULL, NULL);
	select add_altname('many.test', ('n' || i || '.many.test')::citext)
		from generate_series(1, 99) i"
rejects "the 101st name is refused" \
	"select add_altname('many.test', 'n100.many.test')" \
	"certificate many.test carries 100 names already: at most 100 (Let's Encrypt's limit)"
is "$(val "select count(*) from subjects s join subjects c on c.certificate = s.certificate
	where c.name = 'many.test' and not c.isaltname")" 100 "and nothing of it is added"

# ------------------------------------------------------------ cert_records
# Each layer of cert_records (016, 022, 026, 027, 029, 030) names the record of
# the layer below once: views are inlined, so a layer that named it twice
# built everything below twice per row, and four such layers made a
# SELECT of a test database's records take 30 s.
is "$(val "select string_agg(c.relname, ' ' order by c.relname)
	from pg_class c join pg_namespace n on n.oid = c.relnamespace
	where n.nspname = 'pki' and c.relkind = 'v'
	  and c.relname like 'cert_records%'
	  and (length(pg_get_viewdef(c.oid)) -
	       length(replace(pg_get_viewdef(c.oid), 'b.record', ''))) / 8 > 1")" "" \
	"no layer of cert_records names the record below more than once"
is "$(val "select count(*) from pg_class c join pg_namespace n
	on n.oid = c.relnamespace where n.nspname = 'pki' and c.relkind = 'v'
	and c.relname like 'cert_records_%'")" 4 "the four layers below cert_records are there"

# A query that reads no record builds none (029's LATERAL layers built
# every record they joined: pki-select --schedule over 100,000
# certificates went from 0.16 s to 2.5 s).
is "$(val "explain (verbose, costs off) select id, name from cert_records" |
	grep -c 'record\|json_build_object')" 0 "a query of cert_records' id and name builds no record"
like "$(val "explain (verbose, costs off) select record from cert_records")" \
	"*record_kinds(c.id, record_csr(c.id, record_formats(c.id, record_profile(c.id, json_build_object(*" \
	"... and one of its records goes through every layer once"

done_testing
